# Tera templating is exercised concurrently by the server.
RACE_PKGS += ./schema/tera/

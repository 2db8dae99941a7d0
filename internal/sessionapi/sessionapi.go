// Package sessionapi holds the requests and answers of session control
// between the language server and the session side: mirrord/startSession
// (StartSessionParams → LaunchEnvironment, or a SessionError),
// mirrord/listSessions (SessionInfo), mirrord/gitBranch and the
// mirrord/sessionsChanged notification. The JSON forms are those of
// docs/protocol.md.
package sessionapi

// StartSessionParams of mirrord/startSession.
type StartSessionParams struct {
	ConfigPath      string            `json:"configPath,omitempty"`
	Target          string            `json:"target,omitempty"`
	Executable      string            `json:"executable,omitempty"`
	WorkspaceFolder string            `json:"workspaceFolder,omitempty"`
	Env             map[string]string `json:"env,omitempty"`
	WorkDoneToken   any               `json:"workDoneToken,omitempty"`
	// ClientName is the editor's name from initialize (MIRRORD_IDE_NAME);
	// the server fills it in.
	ClientName string `json:"-"`
}

// LaunchEnvironment answers mirrord/startSession.
type LaunchEnvironment struct {
	SessionID   string            `json:"session_id"`
	Environment map[string]string `json:"environment"`
	EnvToUnset  []string          `json:"env_to_unset"`
	Warnings    []string          `json:"warnings"`
}

// SessionInfo is one local session (mirrord/listSessions).
type SessionInfo struct {
	SessionID string `json:"session_id"`
	Key       string `json:"key"`
	Target    string `json:"target"`
	Namespace string `json:"namespace"`
	StartedAt string `json:"started_at"`
	PID       int    `json:"pid"`
}

// SessionError is a failed session start with mirrord's report (the
// `Error: {json}` of `mirrord ext`). mirrord/startSession answers it as a
// JSON-RPC error whose data is this object.
type SessionError struct {
	Message string   `json:"message"`
	Causes  []string `json:"causes"`
	Help    string   `json:"help,omitempty"`
}

func (e *SessionError) Error() string {
	if len(e.Causes) == 0 {
		return e.Message
	}
	msg := e.Message
	for _, c := range e.Causes {
		msg += ": " + c
	}
	return msg
}

// GitBranchParams of mirrord/gitBranch.
type GitBranchParams struct {
	// Folder (a path or file URI); default: the first workspace folder.
	Folder string `json:"folder,omitempty"`
	// Env is the launch environment (MIRRORD_BRANCH_NAME wins).
	Env map[string]string `json:"env,omitempty"`
}

// GitBranchResult answers mirrord/gitBranch.
type GitBranchResult struct {
	Branch   string `json:"branch,omitempty"`
	Commit   string `json:"commit,omitempty"`
	Detached bool   `json:"detached"`
	Root     string `json:"root,omitempty"`
	Source   string `json:"source"` // env, git, none
}

// SessionsChangedParams of the mirrord/sessionsChanged notification.
type SessionsChangedParams struct {
	Sessions []SessionInfo `json:"sessions"`
}

// Command mkimage builds the container images the local cluster needs
// without Docker or a registry, as `docker save` tarballs that
// `ctr -n k8s.io images import` loads (and, on request, OCI image layouts
// that `skopeo copy oci:DIR` or `crane push` publish):
//
//	mkimage pause   --out FILE [--tag REF] [--binary PAUSE] [--oci DIR]
//	mkimage busybox --out FILE [--tag REF] [--binary /bin/busybox] [--oci DIR]
//	mkimage agent   --out FILE --binary MIRRORD_AGENT [--oci DIR] [--tag REF | --version V]
//
// Each prints the image reference on stdout. `make images` and
// `make agent-image` (mk/images.mk) run it; docs/cluster.md ("Images")
// explains the images.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/mirrord-ls/mirrord-ls/internal/ociimage"
	"github.com/mirrord-ls/mirrord-ls/internal/version"
	"github.com/mirrord-ls/mirrord-ls/schema"
)

// Default references of the cluster's images.
const (
	defaultPauseTag   = "mirrord.local/pause:3.10"
	defaultBusyboxTag = "mirrord.local/busybox:1.35"
)

// output is where an image goes: the tarball, an optional OCI layout, and
// its reference.
type output struct {
	file, ociDir, tag string
}

func (o *output) flags(cmd *cobra.Command, defaultTag string) {
	cmd.Flags().StringVar(&o.file, "out", "", "write the image as a `docker save` tarball to `FILE` (required)")
	cmd.Flags().StringVar(&o.ociDir, "oci", "", "also write the image as an OCI image layout in `DIR` (replaced)")
	cmd.Flags().StringVar(&o.tag, "tag", defaultTag, "image `reference` the tarball and layout name")
	_ = cmd.MarkFlagRequired("out")
}

// write builds img and writes it where o says, printing the reference on
// stdout and a summary on stderr.
func (o *output) write(stdout, stderr io.Writer, img image) error {
	tag, err := ociimage.ParseTag(o.tag)
	if err != nil {
		return err
	}
	built, err := ociimage.Build(img.entries, img.config)
	if err != nil {
		return err
	}
	if err := ociimage.WriteTarball(built, tag, o.file); err != nil {
		return err
	}
	where := o.file
	if o.ociDir != "" {
		if err := ociimage.WriteLayout(built, tag, o.ociDir); err != nil {
			return err
		}
		where += " and " + o.ociDir
	}
	digest, err := built.Digest()
	if err != nil {
		return fmt.Errorf("image digest: %w", err)
	}
	fmt.Fprintf(stderr, "mkimage: %s (%s, %d entries) written to %s\n", reference(tag), digest, len(img.entries), where)
	fmt.Fprintln(stdout, reference(tag))
	return nil
}

// reference is how containerd names tag: fully qualified, docker.io for
// Docker Hub.
func reference(tag name.Tag) string {
	if tag.RegistryStr() == name.DefaultRegistry {
		return "docker.io/" + tag.RepositoryStr() + ":" + tag.TagStr()
	}
	return tag.Name()
}

func newPauseCmd() *cobra.Command {
	var out output
	var binary, src string
	cmd := &cobra.Command{
		Use:   "pause",
		Short: "Build the sandbox (pause) image from tools/pause",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if binary == "" {
				dir, err := os.MkdirTemp("", "mkimage-pause-")
				if err != nil {
					return fmt.Errorf("pause build directory: %w", err)
				}
				defer os.RemoveAll(dir)
				binary = filepath.Join(dir, "pause")
				goTool := os.Getenv("GO")
				if goTool == "" {
					goTool = "go"
				}
				if err := buildPause(cmd.Context(), goTool, src, binary); err != nil {
					return err
				}
			}
			img, err := pauseImage(binary)
			if err != nil {
				return err
			}
			return out.write(cmd.OutOrStdout(), cmd.ErrOrStderr(), img)
		},
	}
	out.flags(cmd, defaultPauseTag)
	cmd.Flags().StringVar(&binary, "binary", "", "use this static pause program instead of building tools/pause")
	cmd.Flags().StringVar(&src, "src", ".", "a directory inside the mirrord-ls module, where tools/pause is built")
	return cmd
}

func newBusyboxCmd() *cobra.Command {
	var out output
	var binary string
	cmd := &cobra.Command{
		Use:   "busybox",
		Short: "Build the busybox workload image from Debian's busybox-static",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			img, err := busyboxImage(cmd.Context(), binary)
			if err != nil {
				return err
			}
			return out.write(cmd.OutOrStdout(), cmd.ErrOrStderr(), img)
		},
	}
	out.flags(cmd, defaultBusyboxTag)
	cmd.Flags().StringVar(&binary, "binary", "/bin/busybox", "the static busybox to package")
	return cmd
}

func newAgentCmd() *cobra.Command {
	var out output
	o := agentOptions{}
	var libDirs string
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Build the mirrord-agent image: the static agent plus the host's iptables",
		Long: "Build the mirrord-agent image: the static agent at " + agentPath + ", the host's iptables\n" +
			"multi-call binaries with every library they need and all extension modules, and\n" +
			"/usr/sbin/iptables pointing at the --iptables-backend variant. The default reference\n" +
			"is " + schema.DefaultAgentImage + ":VERSION, the reference the CLI of that version runs.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.binary == "" {
				return errors.New("--binary is required: the static mirrord-agent (CGO_ENABLED=0 go build ./cmd/mirrord-agent)")
			}
			if !cmd.Flags().Changed("tag") {
				out.tag = schema.DefaultAgentImage + ":" + schema.AgentImageTag(o.version)
			}
			o.libDirs = filepath.SplitList(libDirs)
			img, err := agentImage(o)
			if err != nil {
				return err
			}
			return out.write(cmd.OutOrStdout(), cmd.ErrOrStderr(), img)
		},
	}
	out.flags(cmd, schema.DefaultAgentImage+":VERSION")
	cmd.Flags().StringVar(&o.binary, "binary", "", "the static mirrord-agent `PATH` (required)")
	cmd.Flags().StringVar(&o.version, "version", version.Version, "version whose tag the default reference gets")
	cmd.Flags().StringVar(&o.backend, "iptables-backend", "nft", "what plain `iptables` runs in the image: nft or legacy")
	cmd.Flags().StringVar(&o.sbinDir, "sbin-dir", "/usr/sbin", "host directory with xtables-nft-multi and xtables-legacy-multi")
	cmd.Flags().StringVar(&o.xtablesDir, "xtables-dir", imageXtablesDir, "host directory with the iptables extension modules")
	cmd.Flags().StringVar(&libDirs, "lib-dirs", strings.Join([]string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"}, string(filepath.ListSeparator)),
		"host directories searched, in order, for shared libraries (colon-separated)")
	return cmd
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "mkimage",
		Short:         "Build the local cluster's container images without Docker",
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newPauseCmd(), newBusyboxCmd(), newAgentCmd())
	return root
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

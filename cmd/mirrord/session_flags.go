package main

import (
	"github.com/spf13/pflag"

	"github.com/mirrord-ls/mirrord-ls/session"
)

// sessionFlags are the flags users copy from mirrord's docs, shared by
// exec, ext and port-forward. Each one is the override of a MIRRORD_*
// variable (reference config.md §2.2), handed to the config engine in the
// session request's environment: the engine stays the one place that
// resolves, and the precedence is mirrord's — a flag over the variable
// over the config file over the default.
type sessionFlags struct {
	configFile      string
	target          string
	targetNamespace string
	agentNamespace  string
	agentImage      string
	kubeContext     string
	fsMode          string
	steal           bool
	ephemeral       bool
}

// sessionFlagSet says which optional flags a command has.
type sessionFlagSet struct {
	// fsMode adds --fs-mode (commands that run a process).
	fsMode bool
	// ephemeralShort gives --ephemeral-container the short -e (exec; ext
	// uses -e for the executable).
	ephemeralShort bool
}

func (f *sessionFlags) register(fl *pflag.FlagSet, set sessionFlagSet) {
	fl.StringVarP(&f.configFile, "config-file", "f", "", "mirrord config file, JSON, YAML or TOML (MIRRORD_CONFIG_FILE)")
	fl.StringVarP(&f.target, "target", "t", "", "target path: pod/NAME, deployment/NAME, rollout/NAME, ..., or targetless (MIRRORD_IMPERSONATED_TARGET)")
	fl.StringVarP(&f.targetNamespace, "target-namespace", "n", "", "namespace of the target (MIRRORD_TARGET_NAMESPACE; default: target.namespace, else the kube context's)")
	fl.StringVarP(&f.agentNamespace, "agent-namespace", "a", "", "namespace the agent is created in (MIRRORD_AGENT_NAMESPACE; default: the target's)")
	fl.StringVarP(&f.agentImage, "agent-image", "i", "", "agent image (MIRRORD_AGENT_IMAGE): a mirrord-ls agent image")
	fl.StringVar(&f.kubeContext, "context", "", "kube context (MIRRORD_KUBE_CONTEXT; default: kube_context, else the current one)")
	fl.BoolVar(&f.steal, "steal", false, "steal the target's incoming traffic instead of mirroring it (MIRRORD_AGENT_TCP_STEAL_TRAFFIC=true)")
	short := ""
	if set.ephemeralShort {
		short = "e"
	}
	fl.BoolVarP(&f.ephemeral, "ephemeral-container", short, false, "run the agent as an ephemeral container of the target pod (MIRRORD_EPHEMERAL_CONTAINER=true)")
	if set.fsMode {
		fl.StringVar(&f.fsMode, "fs-mode", "", "file operations: read, write, local or localwithoverrides (MIRRORD_FILE_MODE)")
	}
}

// overrides are the variables the given flags set.
func (f *sessionFlags) overrides() map[string]string {
	env := map[string]string{}
	set := func(name, v string) {
		if v != "" {
			env[name] = v
		}
	}
	set("MIRRORD_TARGET_NAMESPACE", f.targetNamespace)
	set("MIRRORD_AGENT_NAMESPACE", f.agentNamespace)
	set("MIRRORD_AGENT_IMAGE", f.agentImage)
	set("MIRRORD_KUBE_CONTEXT", f.kubeContext)
	set("MIRRORD_FILE_MODE", f.fsMode)
	if f.steal {
		env["MIRRORD_AGENT_TCP_STEAL_TRAFFIC"] = "true"
	}
	if f.ephemeral {
		env["MIRRORD_EPHEMERAL_CONTAINER"] = "true"
	}
	return env
}

// request is the session request of the flags: -f as the explicit config
// (else MIRRORD_CONFIG_FILE, through discovery), -t as the target, the
// rest as variable overrides.
func (f *sessionFlags) request() session.Request {
	return session.Request{ConfigPath: f.configFile, Target: f.target, Env: f.overrides()}
}

package supervisor

import (
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
)

// Mode says how mirrord exec runs a program.
type Mode string

// Modes (the config's value).
const (
	ModeAuto       Mode = "auto"       // supervisor for static and Go programs, else the C layer
	ModePreload    Mode = "preload"    // always the C layer (LD_PRELOAD)
	ModeSupervisor Mode = "supervisor" // always the seccomp supervisor
)

// ParseMode checks a configured mode ("" is auto).
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", ModeAuto:
		return ModeAuto, nil
	case ModePreload, ModeSupervisor:
		return Mode(s), nil
	}
	return "", fmt.Errorf("layer mode %q: want auto, preload or supervisor", s)
}

// Choose decides, for mode auto, whether the executable at path runs
// under the supervisor, and says why: a static ELF (no PT_INTERP, so
// LD_PRELOAD never loads) or a Go program (Go makes its system calls
// without libc) does; anything else — including scripts, whose
// interpreter is what runs — uses the C layer.
func Choose(path string) (bool, string) {
	f, err := elf.Open(path)
	if err != nil {
		var fe *elf.FormatError
		if errors.As(err, &fe) {
			return false, path + " is not an ELF program"
		}
		return false, fmt.Sprintf("cannot read %s: %v", path, err)
	}
	defer f.Close()
	dynamic := false
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			dynamic = true
		}
	}
	if !dynamic {
		return true, path + " is statically linked"
	}
	if bi, err := buildinfo.ReadFile(path); err == nil {
		return true, path + " is a Go program (" + bi.GoVersion + ")"
	}
	return false, path + " is dynamically linked and not written in Go"
}

// Unreached says why mirrord cannot reach the system calls of a program
// Choose picked for the supervisor (why is Choose's reason) under mode:
// layer_mode preload, or no supervisor on this platform; "" when the
// supervisor takes it.
func Unreached(mode Mode, why string) string {
	switch {
	case mode == ModePreload:
		return why + " and layer_mode is preload: LD_PRELOAD cannot reach its system calls, only the environment applies"
	case !Supported:
		return why + ": the seccomp supervisor is not supported on this platform, only the environment applies"
	}
	return ""
}

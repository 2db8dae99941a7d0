package main

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// elfInfo is what image building needs to know about one ELF file.
type elfInfo struct {
	machine elf.Machine
	interp  string   // PT_INTERP, empty for a static program or a library
	needed  []string // DT_NEEDED
}

func readELF(file string) (elfInfo, error) {
	f, err := elf.Open(file)
	if err != nil {
		return elfInfo{}, fmt.Errorf("reading ELF %s: %w", file, err)
	}
	defer f.Close()
	info := elfInfo{machine: f.Machine}
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil {
			return elfInfo{}, fmt.Errorf("reading the interpreter of %s: %w", file, err)
		}
		info.interp = strings.TrimRight(string(b), "\x00")
	}
	info.needed, err = f.ImportedLibraries()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return elfInfo{}, fmt.Errorf("reading the libraries %s needs: %w", file, err)
	}
	return info, nil
}

// checkStatic fails unless file is a statically linked x86-64 ELF
// program: no PT_INTERP and no DT_NEEDED. hint says how to build one.
func checkStatic(file, hint string) error {
	info, err := readELF(file)
	if err != nil {
		return err
	}
	if info.machine != elf.EM_X86_64 {
		return fmt.Errorf("%s is built for %v, not x86-64 (linux/amd64)", file, info.machine)
	}
	if info.interp != "" || len(info.needed) > 0 {
		return fmt.Errorf("%s is dynamically linked (interpreter %q, libraries %v); the image has no libc for it: %s",
			file, info.interp, info.needed, hint)
	}
	return nil
}

// libraries is the closure of the shared libraries a set of ELF files
// needs, found on the host.
type libraries struct {
	// interp is the dynamic loader (PT_INTERP) of the programs.
	interp string
	// bySoname maps each library's DT_NEEDED name to its host file.
	bySoname map[string]string
}

// sonames returns the library names, sorted.
func (l libraries) sonames() []string {
	names := make([]string, 0, len(l.bySoname))
	for n := range l.bySoname {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// resolveLibraries walks DT_NEEDED from files (programs and dlopen'ed
// modules) and finds every library in dirs, in order, as the dynamic loader
// would without an ld.so.cache. All programs must use the same loader; the
// loader itself is not listed among the libraries. A library that is not
// found is an error naming who needs it.
func resolveLibraries(files, dirs []string) (libraries, error) {
	libs := libraries{bySoname: map[string]string{}}
	queue := append([]string(nil), files...)
	seen := map[string]bool{}
	for len(queue) > 0 {
		file := queue[0]
		queue = queue[1:]
		if seen[file] {
			continue
		}
		seen[file] = true
		info, err := readELF(file)
		if err != nil {
			return libraries{}, err
		}
		if info.machine != elf.EM_X86_64 {
			return libraries{}, fmt.Errorf("%s is built for %v, not x86-64", file, info.machine)
		}
		if info.interp != "" {
			if libs.interp != "" && libs.interp != info.interp {
				return libraries{}, fmt.Errorf("%s uses the loader %s, others %s", file, info.interp, libs.interp)
			}
			libs.interp = info.interp
		}
		for _, name := range info.needed {
			if _, ok := libs.bySoname[name]; ok {
				continue
			}
			if strings.Contains(name, "/") {
				return libraries{}, fmt.Errorf("%s needs %q by path, which is not supported", file, name)
			}
			found := ""
			for _, d := range dirs {
				p := filepath.Join(d, name)
				if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
					found = p
					break
				}
			}
			if found == "" {
				return libraries{}, fmt.Errorf("library %s, needed by %s, is not in %s", name, file, strings.Join(dirs, ", "))
			}
			libs.bySoname[name] = found
			queue = append(queue, found)
		}
	}
	if libs.interp == "" {
		return libraries{}, fmt.Errorf("none of %s has a dynamic loader (PT_INTERP)", strings.Join(files, ", "))
	}
	// libc names the loader by its soname; the loader is placed at its
	// PT_INTERP path instead.
	delete(libs.bySoname, path.Base(libs.interp))
	return libs, nil
}

package session

import (
	"fmt"
	"strings"

	"github.com/mirrord-ls/mirrord-ls/layer/settings"
	"github.com/mirrord-ls/mirrord-ls/protocol"
	"github.com/mirrord-ls/mirrord-ls/schema"
)

// runtimeSettings projects the config engine's resolved configuration
// (every MIRRORD_* override already applied by schema.Resolve, the only
// place the environment is read) onto what the intproxy and the layer
// decide with. Nothing is parsed a second time.
func runtimeSettings(c *schema.Config) (settings.Settings, error) {
	if c == nil {
		return settings.Settings{}, fmt.Errorf("no resolved config")
	}
	// What the runtime cannot carry out is refused, never ignored: the
	// same list verify reports as V-UNSUPPORTED errors.
	if un := schema.UnhonouredSettings(c); len(un) > 0 {
		msgs := make([]string, len(un))
		for i, u := range un {
			msgs[i] = u.Pointer + ": " + u.Message
		}
		return settings.Settings{}, fmt.Errorf("settings this mirrord does not honour:\n  %s", strings.Join(msgs, "\n  "))
	}
	s := settings.Default()
	if c.Target.Path != nil {
		s.Target = c.Target.Path.String()
	}
	s.Targetless = c.Targetless
	if c.Agent.Address != nil {
		s.Agent.Address = *c.Agent.Address
	}
	if c.Agent.Token != nil {
		s.Agent.Token = *c.Agent.Token
	}
	s.SkipProcesses = c.SkipProcesses
	s.SkipBuildTools = c.SkipBuildTools
	s.SkipExtraBuildTools = c.SkipExtraBuildTools

	s.InternalProxy = settings.InternalProxy{StartIdleTimeout: settings.Duration(c.IntProxy.StartIdle()), IdleTimeout: settings.Duration(c.IntProxy.Idle())}
	d := &valueDecoder{}

	e := c.Feature.Env
	s.Env = settings.Env{Include: e.Include, Exclude: e.Exclude, Mapping: e.Mapping, Override: e.Override, Unset: e.Unset}
	if e.EnvFile != nil {
		s.Env.EnvFile = *e.EnvFile
	}

	f := c.Feature.Fs
	s.FS = settings.FS{Mode: f.Mode, ReadWrite: f.ReadWrite, ReadOnly: f.ReadOnly, Local: f.Local, NotFound: f.NotFound}

	n := c.Feature.Network
	in := n.Incoming
	s.Incoming = settings.Incoming{
		Mode: in.Mode, PortMapping: in.PortMapping, ListenPorts: in.ListenPorts,
		IgnoreLocalhost: in.IgnoreLocalhost, IgnorePorts: in.IgnorePorts, Ports: in.Ports,
		HTTPFilterPorts: in.HTTPFilter.Ports,
	}
	hf := map[string]any{}
	for k, v := range map[string]*string{"header_filter": in.HTTPFilter.HeaderFilter, "path_filter": in.HTTPFilter.PathFilter, "method_filter": in.HTTPFilter.MethodFilter} {
		if v != nil {
			hf[k] = *v
		}
	}
	if in.HTTPFilter.AllOf != nil {
		hf["all_of"] = in.HTTPFilter.AllOf
	}
	if in.HTTPFilter.AnyOf != nil {
		hf["any_of"] = in.HTTPFilter.AnyOf
	}
	if len(hf) > 0 {
		s.Incoming.HTTPFilter = d.httpFilter(hf, "feature.network.incoming.http_filter")
	}

	o := n.Outgoing
	s.Outgoing = settings.Outgoing{TCP: o.TCP, UDP: o.UDP, IgnoreLocalhost: o.IgnoreLocalhost, UnixStreams: o.UnixStreams}
	if o.Filter != nil {
		s.Outgoing.Filter = settings.AddressFilter{Local: o.Filter.Local, Remote: o.Filter.Remote}
	}
	s.DNS = settings.DNS{Enabled: n.DNS.Enabled}
	if n.DNS.Filter != nil {
		s.DNS.Filter = settings.AddressFilter{Local: n.DNS.Filter.Local, Remote: n.DNS.Filter.Remote}
	}
	if d.err != nil {
		return settings.Settings{}, d.err
	}
	return s, s.Validate()
}

// valueDecoder reads the untyped parts of the resolved config (maps, lists,
// scalars as the config engine passes them through), remembering the first
// error with its config path.
type valueDecoder struct{ err error }

func (d *valueDecoder) fail(path, format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...))
	}
}

func (d *valueDecoder) obj(v any, path string) map[string]any {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		d.fail(path, "want an object")
	}
	return m
}

func (d *valueDecoder) str(v any, path string) string {
	if v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		d.fail(path, "want a string")
	}
	return s
}

// httpFilter converts an http_filter object (header_filter, path_filter,
// method_filter, all_of, any_of; inside all_of/any_of: header, path,
// method); nil when none is set.
func (d *valueDecoder) httpFilter(m map[string]any, at string) *protocol.HTTPFilter {
	var fs []protocol.HTTPFilter
	for _, k := range []string{"header_filter", "header", "path_filter", "path", "method_filter", "method"} {
		x := d.str(m[k], at+"."+k)
		if x == "" {
			continue
		}
		switch k {
		case "header_filter", "header":
			fs = append(fs, protocol.HTTPFilter{Header: x})
		case "path_filter", "path":
			fs = append(fs, protocol.HTTPFilter{Path: x})
		default:
			fs = append(fs, protocol.HTTPFilter{Method: x})
		}
	}
	for _, key := range []string{"all_of", "any_of"} {
		list, ok := m[key].([]any)
		if m[key] != nil && !ok {
			d.fail(at+"."+key, "want a list of filters")
		}
		if !ok {
			continue
		}
		inner := make([]protocol.HTTPFilter, 0, len(list))
		for i, e := range list {
			where := fmt.Sprintf("%s.%s[%d]", at, key, i)
			if f := d.httpFilter(d.obj(e, where), where); f != nil {
				inner = append(inner, *f)
			}
		}
		if key == "all_of" {
			fs = append(fs, protocol.HTTPFilter{AllOf: inner})
		} else {
			fs = append(fs, protocol.HTTPFilter{AnyOf: inner})
		}
	}
	switch len(fs) {
	case 0:
		return nil
	case 1:
		return &fs[0]
	}
	d.fail(at, "set only one of header_filter, path_filter, method_filter, all_of, any_of")
	return nil
}

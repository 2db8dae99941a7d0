package settings

import (
	"fmt"
	"strings"

	"github.com/mirrord-ls/mirrord-ls/schema"
)

// FromConfig converts the config engine's resolved configuration (its
// environment overrides already applied, MIRRORD_AGENT_ADDRESS and
// MIRRORD_AGENT_TOKEN included) into Settings.
func FromConfig(c *schema.Config) (Settings, error) {
	if c == nil {
		return Settings{}, fmt.Errorf("no resolved config")
	}
	// What the runtime cannot carry out is refused, never ignored: the
	// same list verify reports as V-UNSUPPORTED errors.
	if un := schema.UnhonouredSettings(c); len(un) > 0 {
		msgs := make([]string, len(un))
		for i, u := range un {
			msgs[i] = u.Pointer + ": " + u.Message
		}
		return Settings{}, fmt.Errorf("settings this mirrord does not honour:\n  %s", strings.Join(msgs, "\n  "))
	}
	s := Default()
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

	s.InternalProxy = InternalProxy{StartIdleTimeout: Duration(c.IntProxy.StartIdle()), IdleTimeout: Duration(c.IntProxy.Idle())}
	d := &valueDecoder{}

	e := c.Feature.Env
	s.Env = Env{Include: e.Include, Exclude: e.Exclude, Mapping: e.Mapping, Override: e.Override, Unset: e.Unset}
	if e.EnvFile != nil {
		s.Env.EnvFile = *e.EnvFile
	}

	f := c.Feature.Fs
	s.FS = FS{Mode: f.Mode, ReadWrite: f.ReadWrite, ReadOnly: f.ReadOnly, Local: f.Local, NotFound: f.NotFound}

	n := c.Feature.Network
	in := n.Incoming
	s.Incoming = Incoming{
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
	s.Outgoing = Outgoing{TCP: o.TCP, UDP: o.UDP, IgnoreLocalhost: o.IgnoreLocalhost, UnixStreams: o.UnixStreams}
	if o.Filter != nil {
		s.Outgoing.Filter = AddressFilter{Local: o.Filter.Local, Remote: o.Filter.Remote}
	}
	s.DNS = DNS{Enabled: n.DNS.Enabled}
	if n.DNS.Filter != nil {
		s.DNS.Filter = AddressFilter{Local: n.DNS.Filter.Local, Remote: n.DNS.Filter.Remote}
	}
	if d.err != nil {
		return Settings{}, d.err
	}
	return s, s.Validate()
}

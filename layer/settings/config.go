package settings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"gopkg.in/yaml.v3"

	"github.com/mirrord-ls/mirrord-ls/protocol"
)

// TODO(schema): once schema's resolved Config settles, build Settings from
// it (templating, full validation with positions). Until then the layer
// reads the mirrord config file itself: JSON, YAML or TOML by extension,
// without templates.

// LoadFile reads a mirrord config file into Settings (defaults for what it
// does not set).
func LoadFile(path string) (Settings, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Settings{}, fmt.Errorf("read config: %w", err)
	}
	var tree any
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		err = yaml.Unmarshal(data, &tree)
	case ".toml":
		err = toml.Unmarshal(data, &tree)
	default:
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		err = dec.Decode(&tree)
	}
	if err != nil {
		return Settings{}, fmt.Errorf("parse config %s: %w", path, err)
	}
	s, err := FromTree(tree)
	if err != nil {
		return Settings{}, fmt.Errorf("config %s: %w", path, err)
	}
	return s, nil
}

// FromTree converts a decoded config document (maps, lists, scalars).
func FromTree(tree any) (Settings, error) {
	s := Default()
	root, ok := tree.(map[string]any)
	if tree != nil && !ok {
		return s, fmt.Errorf("the config must be an object")
	}
	d := &treeDecoder{}
	d.root(&s, root)
	if d.err != nil {
		return Settings{}, d.err
	}
	return s, s.Validate()
}

type treeDecoder struct{ err error }

func (d *treeDecoder) fail(path, format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...))
	}
}

func (d *treeDecoder) obj(v any, path string) map[string]any {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		d.fail(path, "want an object")
	}
	return m
}

func (d *treeDecoder) str(v any, path string) string {
	if v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		d.fail(path, "want a string")
	}
	return s
}

func (d *treeDecoder) boolean(v any, path string, def bool) bool {
	if v == nil {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		d.fail(path, "want true or false")
	}
	return b
}

func (d *treeDecoder) number(v any, path string) (float64, bool) {
	switch n := v.(type) {
	case nil:
		return 0, false
	case json.Number:
		f, err := n.Float64()
		if err != nil {
			d.fail(path, "want a number")
		}
		return f, err == nil
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	}
	d.fail(path, "want a number")
	return 0, false
}

func (d *treeDecoder) port(v any, path string) uint16 {
	f, ok := d.number(v, path)
	if ok && (f < 0 || f > 65535 || f != float64(int(f))) {
		d.fail(path, "%v is not a port (0-65535)", f)
		return 0
	}
	return uint16(f)
}

// strs reads S|[S].
func (d *treeDecoder) strs(v any, path string) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			out = append(out, d.str(e, fmt.Sprintf("%s[%d]", path, i)))
		}
		return out
	}
	d.fail(path, "want a string or a list of strings")
	return nil
}

func (d *treeDecoder) ports(v any, path string) []uint16 {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		out := make([]uint16, 0, len(x))
		for i, e := range x {
			out = append(out, d.port(e, fmt.Sprintf("%s[%d]", path, i)))
		}
		return out
	}
	return []uint16{d.port(v, path)}
}

func (d *treeDecoder) pairs(v any, path string) [][2]uint16 {
	list, ok := v.([]any)
	if v != nil && !ok {
		d.fail(path, "want a list of [port, port] pairs")
	}
	var out [][2]uint16
	for i, e := range list {
		p, ok := e.([]any)
		at := fmt.Sprintf("%s[%d]", path, i)
		if !ok || len(p) != 2 {
			d.fail(at, "want [port, port]")
			return nil
		}
		out = append(out, [2]uint16{d.port(p[0], at+"[0]"), d.port(p[1], at+"[1]")})
	}
	return out
}

func (d *treeDecoder) strMap(v any, path string) map[string]string {
	m := d.obj(v, path)
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, e := range m {
		out[k] = d.str(e, path+"."+k)
	}
	return out
}

func (d *treeDecoder) seconds(v any, path string, dst *Duration) {
	if f, ok := d.number(v, path); ok {
		if f < 0 {
			d.fail(path, "negative timeout")
			return
		}
		*dst = Duration(time.Duration(f * float64(time.Second)))
	}
}

func (d *treeDecoder) root(s *Settings, m map[string]any) {
	s.SkipProcesses = d.strs(m["skip_processes"], "skip_processes")
	s.SkipBuildTools = d.boolean(m["skip_build_tools"], "skip_build_tools", true)
	s.SkipExtraBuildTools = d.strs(m["skip_extra_build_tools"], "skip_extra_build_tools")
	d.target(s, m["target"])
	if a := d.obj(m["agent"], "agent"); a != nil {
		s.Agent.Address = d.str(a["address"], "agent.address")
		s.Agent.Token = d.str(a["token"], "agent.token")
	}
	if ip := d.obj(m["internal_proxy"], "internal_proxy"); ip != nil {
		d.seconds(ip["start_idle_timeout"], "internal_proxy.start_idle_timeout", &s.InternalProxy.StartIdleTimeout)
		d.seconds(ip["idle_timeout"], "internal_proxy.idle_timeout", &s.InternalProxy.IdleTimeout)
	}
	f := d.obj(m["feature"], "feature")
	if f == nil {
		return
	}
	d.env(s, f["env"])
	d.fs(s, f["fs"])
	d.network(s, f["network"])
}

func (d *treeDecoder) target(s *Settings, v any) {
	switch t := v.(type) {
	case nil:
	case string:
		s.Target = t
	case map[string]any:
		if p, ok := t["path"]; ok {
			d.target(s, p)
			return
		}
		for _, kind := range []string{"pod", "deployment", "rollout"} {
			if name, ok := t[kind].(string); ok {
				s.Target = kind + "/" + name
				if c, ok := t["container"].(string); ok {
					s.Target += "/container/" + c
				}
			}
		}
	default:
		d.fail("target", "want a string or an object")
	}
	s.Targetless = s.Target == "" || s.Target == "targetless"
}

func (d *treeDecoder) env(s *Settings, v any) {
	switch e := v.(type) {
	case nil:
	case bool:
		s.Env.Disabled = !e
	case map[string]any:
		s.Env.Include = d.strs(e["include"], "feature.env.include")
		s.Env.Exclude = d.strs(e["exclude"], "feature.env.exclude")
		s.Env.EnvFile = d.str(e["env_file"], "feature.env.env_file")
		s.Env.Mapping = d.strMap(e["mapping"], "feature.env.mapping")
		s.Env.Override = d.strMap(e["override"], "feature.env.override")
		s.Env.Unset = d.strs(e["unset"], "feature.env.unset")
	default:
		d.fail("feature.env", "want true, false or an object")
	}
}

func (d *treeDecoder) fs(s *Settings, v any) {
	switch f := v.(type) {
	case nil:
	case bool:
		s.FS.Mode = map[bool]string{true: FSRead, false: FSLocal}[f]
	case string:
		s.FS.Mode = f
	case map[string]any:
		if m := d.str(f["mode"], "feature.fs.mode"); m != "" {
			s.FS.Mode = m
		}
		s.FS.ReadWrite = d.strs(f["read_write"], "feature.fs.read_write")
		s.FS.ReadOnly = d.strs(f["read_only"], "feature.fs.read_only")
		s.FS.Local = d.strs(f["local"], "feature.fs.local")
		s.FS.NotFound = d.strs(f["not_found"], "feature.fs.not_found")
	default:
		d.fail("feature.fs", "want true, false, a mode or an object")
	}
}

func (d *treeDecoder) network(s *Settings, v any) {
	switch n := v.(type) {
	case nil:
	case bool:
		if !n {
			s.Incoming.Mode = IncomingOff
			s.Outgoing.TCP, s.Outgoing.UDP = false, false
			s.DNS.Enabled = false
		}
	case map[string]any:
		d.incoming(s, n["incoming"])
		d.outgoing(s, n["outgoing"])
		d.dns(s, n["dns"])
	default:
		d.fail("feature.network", "want true, false or an object")
	}
}

func (d *treeDecoder) incoming(s *Settings, v any) {
	const at = "feature.network.incoming"
	switch in := v.(type) {
	case nil:
	case bool:
		s.Incoming.Mode = map[bool]string{true: IncomingMirror, false: IncomingOff}[in]
	case string:
		s.Incoming.Mode = in
	case map[string]any:
		if m := d.str(in["mode"], at+".mode"); m != "" {
			s.Incoming.Mode = m
		}
		s.Incoming.PortMapping = d.pairs(in["port_mapping"], at+".port_mapping")
		s.Incoming.ListenPorts = d.pairs(in["listen_ports"], at+".listen_ports")
		s.Incoming.IgnoreLocalhost = d.boolean(in["ignore_localhost"], at+".ignore_localhost", false)
		s.Incoming.IgnorePorts = d.ports(in["ignore_ports"], at+".ignore_ports")
		s.Incoming.Ports = d.ports(in["ports"], at+".ports")
		if hf := d.obj(in["http_filter"], at+".http_filter"); hf != nil {
			s.Incoming.HTTPFilter = d.httpFilter(hf, at+".http_filter")
			s.Incoming.HTTPFilterPorts = d.ports(hf["ports"], at+".http_filter.ports")
		}
	default:
		d.fail(at, "want true, false, a mode or an object")
	}
}

// httpFilter converts http_filter (header_filter, path_filter,
// method_filter, all_of, any_of); nil when none is set.
func (d *treeDecoder) httpFilter(m map[string]any, at string) *protocol.HTTPFilter {
	var fs []protocol.HTTPFilter
	if h := d.str(m["header_filter"], at+".header_filter"); h != "" {
		fs = append(fs, protocol.HTTPFilter{Header: h})
	}
	if p := d.str(m["path_filter"], at+".path_filter"); p != "" {
		fs = append(fs, protocol.HTTPFilter{Path: p})
	}
	if me := d.str(m["method_filter"], at+".method_filter"); me != "" {
		fs = append(fs, protocol.HTTPFilter{Method: me})
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
			em := d.obj(e, fmt.Sprintf("%s.%s[%d]", at, key, i))
			if f := d.httpFilter(em, fmt.Sprintf("%s.%s[%d]", at, key, i)); f != nil {
				inner = append(inner, *f)
			}
		}
		if key == "all_of" {
			fs = append(fs, protocol.HTTPFilter{AllOf: inner})
		} else {
			fs = append(fs, protocol.HTTPFilter{AnyOf: inner})
		}
	}
	// Inner filters use the short keys header/path/method.
	for _, k := range []string{"header", "path", "method"} {
		if x := d.str(m[k], at+"."+k); x != "" {
			switch k {
			case "header":
				fs = append(fs, protocol.HTTPFilter{Header: x})
			case "path":
				fs = append(fs, protocol.HTTPFilter{Path: x})
			case "method":
				fs = append(fs, protocol.HTTPFilter{Method: x})
			}
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

func (d *treeDecoder) addrFilter(v any, at string) AddressFilter {
	m := d.obj(v, at)
	return AddressFilter{Local: d.strs(m["local"], at+".local"), Remote: d.strs(m["remote"], at+".remote")}
}

func (d *treeDecoder) outgoing(s *Settings, v any) {
	const at = "feature.network.outgoing"
	switch o := v.(type) {
	case nil:
	case bool:
		s.Outgoing.TCP, s.Outgoing.UDP = o, o
	case map[string]any:
		s.Outgoing.TCP = d.boolean(o["tcp"], at+".tcp", true)
		s.Outgoing.UDP = d.boolean(o["udp"], at+".udp", true)
		s.Outgoing.IgnoreLocalhost = d.boolean(o["ignore_localhost"], at+".ignore_localhost", false)
		s.Outgoing.Filter = d.addrFilter(o["filter"], at+".filter")
		s.Outgoing.UnixStreams = d.strs(o["unix_streams"], at+".unix_streams")
	default:
		d.fail(at, "want true, false or an object")
	}
}

func (d *treeDecoder) dns(s *Settings, v any) {
	const at = "feature.network.dns"
	switch o := v.(type) {
	case nil:
	case bool:
		s.DNS.Enabled = o
	case map[string]any:
		s.DNS.Enabled = d.boolean(o["enabled"], at+".enabled", true)
		s.DNS.Filter = d.addrFilter(o["filter"], at+".filter")
	default:
		d.fail(at, "want true, false or an object")
	}
}

package schema

import "reflect"

// Settings that mirrord accepts but this mirrord's runtime (the layer and
// its own agent, without the mirrord operator) does not carry out. They
// are errors at verify time (V-UNSUPPORTED, at the setting) and refusals
// at session start (session.runtimeSettings), from this one list, so
// that no config verifies and is then silently run without them.

// Unhonoured is one such setting of a resolved config.
type Unhonoured struct {
	// Pointer is the setting's JSON pointer (where the file has it).
	Pointer string
	// Message says what the setting is and why it is not honoured.
	Message string
}

const noOperator = "this mirrord has no mirrord operator support (it runs its own agent), so it cannot be honoured; remove it"

// UnhonouredSettings lists the settings of c that the runtime does not
// honour, in a stable order.
func UnhonouredSettings(c *Config) []Unhonoured {
	if c == nil {
		return nil
	}
	var out []Unhonoured
	add := func(ptr, what, why string) {
		out = append(out, Unhonoured{Pointer: ptr, Message: what + ": " + why})
	}
	if c.Operator != nil && *c.Operator {
		add("/operator", "`operator: true` requires the mirrord operator", noOperator+" or set it to false")
	}
	if c.MultiCluster != nil && *c.MultiCluster {
		add("/multi_cluster", "`multi_cluster` is an operator feature", noOperator)
	}
	if c.Profile != nil {
		add("/profile", "`profile` is an operator feature", noOperator)
	}
	if c.Traceparent != nil {
		add("/traceparent", "`traceparent` is an operator feature", noOperator)
	}
	if c.Baggage != nil {
		add("/baggage", "`baggage` is an operator feature", noOperator)
	}
	// Target kinds the official CLI leaves to the operator (statefulset,
	// job, cronjob, replicaset, service) are resolved by this mirrord itself
	// (kube/resolve) and proven on the real node (e2e/realnode): honoured.
	f := c.Feature
	if f.CopyTarget.Enabled {
		add("/feature/copy_target", "`feature.copy_target` requires the mirrord operator", noOperator+"; without it the session would run against the live target")
	}
	in := f.Network.Incoming
	if in.HTTPFilter.HeaderFilterJq != nil {
		add("/feature/network/incoming/http_filter/header_filter_jq", "`header_filter_jq`", "the agent of this mirrord does not evaluate jq filters; use `header_filter`")
	}
	if in.HTTPFilter.BodyFilter != nil {
		add("/feature/network/incoming/http_filter/body_filter", "`body_filter`", "the agent of this mirrord does not filter on request bodies; use `header_filter` or `path_filter`")
	}
	if in.TLSDelivery != nil {
		add("/feature/network/incoming/tls_delivery", "`incoming.tls_delivery` is an operator feature", noOperator)
	}
	if in.HTTPSDelivery != nil {
		add("/feature/network/incoming/https_delivery", "`incoming.https_delivery` is an operator feature", noOperator)
	}
	if nonEmpty(f.SplitQueues) {
		add("/feature/split_queues", "`feature.split_queues` is an operator feature", noOperator)
	}
	if nonEmpty(f.DBBranches) {
		add("/feature/db_branches", "`feature.db_branches` is an operator feature", noOperator)
	}
	return out
}

// nonEmpty: a file value kept as is (map, slice or scalar) that holds
// something.
func nonEmpty(v any) bool {
	if v == nil {
		return false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map, reflect.Slice, reflect.Array, reflect.String:
		return rv.Len() > 0
	case reflect.Pointer, reflect.Interface:
		return !rv.IsNil()
	}
	return true
}

// unhonoured reports UnhonouredSettings as errors at the settings.
func (r *rules) unhonoured() {
	for _, u := range UnhonouredSettings(r.cfg) {
		var at spanned
		if n := r.nodeAtPtr(u.Pointer); n != nil {
			at = nodeAt{n, u.Pointer}
		}
		r.errf("V-UNSUPPORTED", at, "%s", u.Message)
	}
}

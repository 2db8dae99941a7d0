package assist

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"go.lsp.dev/protocol"

	"github.com/mirrord-ls/mirrord-ls/internal/cursor"
	"github.com/mirrord-ls/mirrord-ls/internal/targets"
	"github.com/mirrord-ls/mirrord-ls/server/schemadoc"
	"github.com/mirrord-ls/mirrord-ls/server/textdoc"
)

// Request is one completion or hover request on a document snapshot.
type Request struct {
	Doc    *textdoc.Doc
	Offset int
	Format cursor.Format
	// Snippets: the client accepts snippet syntax ($1, ${1|a,b|}).
	Snippets bool
	// Path of the document on disk ("" when unknown): relative paths in
	// the config (kubeconfig) are taken from its folder.
	Path string
}

// Complete returns the completion items at the request's offset.
func (e *Engine) Complete(ctx context.Context, req Request) (protocol.CompletionList, error) {
	text := req.Doc.Text()
	c := cursor.Find(text, req.Offset, req.Format)
	b := &builder{req: req, c: c, rng: spanRange(req.Doc, c.Start, c.End)}
	incomplete := false
	switch c.Kind {
	case cursor.Template:
		e.completeTemplate(b)
	case cursor.Key:
		e.completeKeys(b, e.lookup(c.Path))
	case cursor.Value:
		st := e.lookup(c.Path)
		inc, err := e.completeValues(ctx, b, st)
		if err != nil {
			return protocol.CompletionList{}, err
		}
		incomplete = inc
		if c.MaybeKey && st.Has("object") {
			e.completeKeys(b, st)
		}
	}
	if err := ctx.Err(); err != nil {
		return protocol.CompletionList{}, err
	}
	items := b.items
	if items == nil {
		items = []protocol.CompletionItem{}
	}
	return protocol.CompletionList{IsIncomplete: incomplete, Items: items}, nil
}

func spanRange(d *textdoc.Doc, start, end int) protocol.Range {
	sl, sc := d.Position(start)
	el, ec := d.Position(end)
	return protocol.Range{
		Start: protocol.Position{Line: uint32(sl), Character: uint32(sc)},
		End:   protocol.Position{Line: uint32(el), Character: uint32(ec)},
	}
}

type builder struct {
	req   Request
	c     cursor.Context
	rng   protocol.Range
	items []protocol.CompletionItem
	seen  map[string]bool
}

// add appends an item replacing the token span with newText. Snippet text
// is downgraded to plain text for clients without snippet support.
func (b *builder) add(it protocol.CompletionItem, newText string, snippet bool) {
	if b.seen == nil {
		b.seen = map[string]bool{}
	}
	if b.seen[it.Label] {
		return
	}
	b.seen[it.Label] = true
	if snippet && !b.req.Snippets {
		newText = stripSnippet(newText)
		snippet = false
	}
	it.InsertTextFormat = protocol.InsertTextFormatPlainText
	if snippet {
		it.InsertTextFormat = protocol.InsertTextFormatSnippet
	}
	it.TextEdit = &protocol.TextEdit{Range: b.rng, NewText: newText}
	if it.SortText == "" {
		it.SortText = fmt.Sprintf("%04d", len(b.items))
	}
	b.items = append(b.items, it)
}

// stripSnippet turns "${1|a,b|}" into "a", "${1:x}" into "x", "$1" into "".
func stripSnippet(s string) string {
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			out.WriteByte(s[i+1])
			i++
			continue
		}
		if c != '$' || i+1 >= len(s) {
			out.WriteByte(c)
			continue
		}
		if s[i+1] >= '0' && s[i+1] <= '9' {
			i++
			for i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
				i++
			}
			continue
		}
		if s[i+1] == '{' {
			end := closingBrace(s, i+2)
			if end < 0 {
				out.WriteByte(c)
				continue
			}
			body := s[i+2 : end]
			for len(body) > 0 && body[0] >= '0' && body[0] <= '9' {
				body = body[1:]
			}
			switch {
			case strings.HasPrefix(body, ":"):
				out.WriteString(unescapeSnippet(body[1:]))
			case strings.HasPrefix(body, "|"):
				choices := strings.Split(strings.Trim(body, "|"), ",")
				out.WriteString(unescapeSnippet(choices[0]))
			}
			i = end
			continue
		}
		out.WriteByte(c)
	}
	return out.String()
}

// closingBrace finds the unescaped '}' closing a placeholder body that
// starts at from.
func closingBrace(s string, from int) int {
	for j := from; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '}':
			return j
		}
	}
	return -1
}

func unescapeSnippet(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// escapeSnippet escapes text for use inside a snippet.
func escapeSnippet(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `$`, `\$`, `}`, `\}`)
	return r.Replace(s)
}

func escapeChoice(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `$`, `\$`, `}`, `\}`, `,`, `\,`, `|`, `\|`)
	return r.Replace(s)
}

// --- keys ---

func (e *Engine) completeKeys(b *builder, st schemadoc.Set) {
	present := map[string]bool{}
	for _, s := range b.c.Siblings {
		present[s] = true
	}
	for _, p := range st.Properties() {
		if present[p.Name] {
			continue
		}
		it := protocol.CompletionItem{
			Label:  p.Name,
			Kind:   protocol.CompletionItemKindProperty,
			Detail: p.Set.TypeSummary(),
		}
		if doc := docMarkdown("", p.Set); doc != "" {
			it.Documentation = &protocol.MarkupContent{Kind: protocol.Markdown, Value: doc}
		}
		newText, snippet := b.keyText(p.Name, p.Set)
		it.FilterText = b.filterFor(p.Name)
		b.add(it, newText, snippet)
	}
}

// filterFor is what clients match the typed text against: the token as it
// would be written (quotes included when the user started with one).
func (b *builder) filterFor(name string) string {
	if b.c.Quote != 0 {
		return string(b.c.Quote) + name + string(b.c.Quote)
	}
	return name
}

// keyText is the inserted text for a key: the name, and when no separator
// follows yet, the separator and a snippet of the value's shape.
func (b *builder) keyText(name string, st schemadoc.Set) (string, bool) {
	c := b.c
	switch b.req.Format {
	case cursor.YAML:
		key := quoteYAMLKey(name, c.Quote)
		if c.HasSeparator {
			return key, false
		}
		return key + ":" + yamlValueShape(st, c.Indent), true
	case cursor.TOML:
		key := quoteTOMLKey(name, c.Quote)
		if c.HasSeparator || c.TableHeader {
			return key, false
		}
		return key + " = " + tomlValueShape(st), true
	default:
		key := `"` + name + `"`
		if c.HasSeparator {
			return key, false
		}
		return key + ": " + jsonValueShape(st), true
	}
}

func quoteYAMLKey(name string, q byte) string {
	if q != 0 {
		return string(q) + name + string(q)
	}
	return name
}

func quoteTOMLKey(name string, q byte) string {
	bare := name != ""
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			bare = false
		}
	}
	if q != 0 || !bare {
		if q == 0 {
			q = '"'
		}
		return string(q) + name + string(q)
	}
	return name
}

// shape is the preferred form to insert for a value.
type shape int

const (
	shapeAny shape = iota
	shapeChoice
	shapeBool
	shapeObject
	shapeArray
	shapeString
	shapeNumber
)

func shapeOf(st schemadoc.Set) (shape, []any) {
	enums := st.Enums()
	var free []string
	for _, t := range st.Types() {
		if t != "null" {
			free = append(free, t)
		}
	}
	var enumVals []any
	for _, v := range enums {
		if v != nil {
			enumVals = append(enumVals, v)
		}
	}
	onlyEnums := len(enumVals) > 0
	for _, t := range free {
		covered := false
		for _, v := range enumVals {
			if schemadoc.JSONType(v) == t {
				covered = true
			}
		}
		if !covered {
			onlyEnums = false
		}
	}
	if onlyEnums && len(freeTypesOf(st)) == 0 {
		return shapeChoice, enumVals
	}
	if len(free) != 1 || len(enumVals) > 0 {
		return shapeAny, nil
	}
	switch free[0] {
	case "boolean":
		return shapeBool, nil
	case "object":
		return shapeObject, nil
	case "array":
		return shapeArray, nil
	case "string":
		return shapeString, nil
	case "integer", "number":
		return shapeNumber, nil
	}
	return shapeAny, nil
}

// freeTypesOf: types of the value that are not fixed by an enum, null
// excluded.
func freeTypesOf(st schemadoc.Set) []string {
	var out []string
	enums := st.Enums()
	for _, t := range st.Types() {
		if t == "null" {
			continue
		}
		covered := false
		for _, v := range enums {
			if schemadoc.JSONType(v) == t {
				covered = true
			}
		}
		if !covered {
			out = append(out, t)
		}
	}
	return out
}

func defaultPlaceholder(st schemadoc.Set) string {
	if d, ok := st.Default(); ok && d != nil {
		switch v := d.(type) {
		case string:
			return escapeSnippet(v)
		case float64, bool:
			return escapeSnippet(jsonText(v))
		}
	}
	return ""
}

// stringPlaceholder is "$1", or "${1:default}" when there is a default.
func stringPlaceholder(st schemadoc.Set) string {
	if p := defaultPlaceholder(st); p != "" {
		return "${1:" + p + "}"
	}
	return "$1"
}

func choiceList(vals []any, render func(any) string) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = escapeChoice(render(v))
	}
	return "${1|" + strings.Join(parts, ",") + "|}"
}

// allStrings reports whether every value is a string.
func allStrings(vals []any) bool {
	for _, v := range vals {
		if _, ok := v.(string); !ok {
			return false
		}
	}
	return true
}

func plainString(v any) string { s, _ := v.(string); return s }

// quotedChoice is `"${1|a,b|}"` for string enums, else the JSON choices.
func quotedChoice(vals []any) string {
	if allStrings(vals) {
		return `"` + choiceList(vals, plainString) + `"`
	}
	return choiceList(vals, jsonText)
}

func jsonValueShape(st schemadoc.Set) string {
	sh, vals := shapeOf(st)
	switch sh {
	case shapeChoice:
		return quotedChoice(vals)
	case shapeBool:
		return "${1|true,false|}"
	case shapeObject:
		return "{$1}"
	case shapeArray:
		return "[$1]"
	case shapeString:
		return `"` + stringPlaceholder(st) + `"`
	case shapeNumber:
		if p := defaultPlaceholder(st); p != "" {
			return "${1:" + p + "}"
		}
		return "${1:0}"
	}
	return "$1"
}

func yamlScalar(v any) string {
	if s, ok := v.(string); ok {
		if needsYAMLQuotes(s) {
			return jsonText(s)
		}
		return s
	}
	return jsonText(v)
}

func needsYAMLQuotes(s string) bool {
	if s == "" || strings.ContainsAny(s, ":#{}[],&*!|>'\"%@`") || strings.TrimSpace(s) != s {
		return true
	}
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "null", "~", "y", "n":
		return true
	}
	if s[0] == '-' || s[0] == '?' || (s[0] >= '0' && s[0] <= '9') || s[0] == '.' {
		return true
	}
	return false
}

func yamlValueShape(st schemadoc.Set, indent int) string {
	pad := strings.Repeat(" ", indent+2)
	sh, vals := shapeOf(st)
	switch sh {
	case shapeChoice:
		return " " + choiceList(vals, yamlScalar)
	case shapeBool:
		return " ${1|true,false|}"
	case shapeObject:
		return "\n" + pad + "$1"
	case shapeArray:
		return "\n" + pad + "- $1"
	case shapeNumber:
		if p := defaultPlaceholder(st); p != "" {
			return " ${1:" + p + "}"
		}
		return " ${1:0}"
	case shapeString:
		return " " + stringPlaceholder(st)
	}
	return " $1"
}

func tomlValueShape(st schemadoc.Set) string {
	sh, vals := shapeOf(st)
	switch sh {
	case shapeChoice:
		return quotedChoice(vals)
	case shapeBool:
		return "${1|true,false|}"
	case shapeObject:
		return "{ $1 }"
	case shapeArray:
		return "[$1]"
	case shapeString:
		return `"` + stringPlaceholder(st) + `"`
	case shapeNumber:
		if p := defaultPlaceholder(st); p != "" {
			return "${1:" + p + "}"
		}
		return "${1:0}"
	}
	return "$1"
}

// --- values ---

// valueText renders a scalar for the document's format, keeping the quote
// the user started with.
func (b *builder) valueText(v any) string {
	s, isString := v.(string)
	switch b.req.Format {
	case cursor.YAML:
		if isString && b.c.Quote != 0 {
			if b.c.Quote == '\'' {
				return "'" + strings.ReplaceAll(s, "'", "''") + "'"
			}
			return jsonText(s)
		}
		return yamlScalar(v)
	case cursor.TOML:
		if isString && b.c.Quote == '\'' && !strings.Contains(s, "'") {
			return "'" + s + "'"
		}
		return jsonText(v)
	default:
		return jsonText(v)
	}
}

func (b *builder) valueFilter(v any) string {
	s, isString := v.(string)
	if !isString {
		return jsonText(v)
	}
	if b.c.Quote != 0 {
		return string(b.c.Quote) + s + string(b.c.Quote)
	}
	return s
}

// completeValues adds the values of a field. incomplete reports that the
// cluster's part is partial.
func (e *Engine) completeValues(ctx context.Context, b *builder, st schemadoc.Set) (incomplete bool, err error) {
	pointer := cursor.Pointer(b.c.Path)
	def, hasDef := st.Default()
	addValue := func(v any, kind protocol.CompletionItemKind, detail, doc string) {
		if _, isString := v.(string); !isString && b.c.Quote != 0 {
			return // inside quotes only strings fit
		}
		label := jsonText(v)
		if s, ok := v.(string); ok {
			label = s
		}
		it := protocol.CompletionItem{Label: label, Kind: kind, Detail: detail, FilterText: b.valueFilter(v)}
		if hasDef && jsonText(def) == jsonText(v) {
			it.Detail = strings.TrimSpace(detail + " (default)")
			it.Preselect = true
		}
		if doc != "" {
			it.Documentation = &protocol.MarkupContent{Kind: protocol.Markdown, Value: doc}
		}
		b.add(it, b.valueText(v), false)
	}
	for _, v := range st.Enums() {
		if v == nil {
			continue
		}
		addValue(v, protocol.CompletionItemKindEnumMember, "", st.AltDescription(v))
	}
	if st.Has("boolean") {
		addValue(true, protocol.CompletionItemKindKeyword, "", "")
		addValue(false, protocol.CompletionItemKindKeyword, "", "")
	}
	if hasDef && def != nil {
		switch def.(type) {
		case string, float64, bool:
			addValue(def, protocol.CompletionItemKindValue, "", "")
		}
	}
	// Shorthand and long forms: offer the object and array shapes too.
	if st.Has("object") && (b.c.Prefix == "" || strings.HasPrefix(b.c.Prefix, "{")) && b.c.Quote == 0 {
		it := protocol.CompletionItem{Label: "{…}", Kind: protocol.CompletionItemKindSnippet, Detail: "object form", FilterText: "{"}
		if props := st.Properties(); len(props) > 0 {
			names := make([]string, 0, len(props))
			for _, p := range props {
				names = append(names, p.Name)
			}
			it.Documentation = &protocol.MarkupContent{Kind: protocol.Markdown, Value: "Fields: `" + strings.Join(names, "`, `") + "`"}
		}
		switch b.req.Format {
		case cursor.YAML:
			b.add(it, "\n"+strings.Repeat(" ", b.c.Indent+2)+"$1", true)
		case cursor.TOML:
			b.add(it, "{ $1 }", true)
		default:
			b.add(it, "{$1}", true)
		}
	}
	if st.Has("array") && (b.c.Prefix == "" || strings.HasPrefix(b.c.Prefix, "[")) && b.c.Quote == 0 {
		it := protocol.CompletionItem{Label: "[…]", Kind: protocol.CompletionItemKindSnippet, Detail: "list form", FilterText: "["}
		b.add(it, "[$1]", true)
	}
	for _, ex := range st.Examples() {
		if _, ok := ex.(string); ok {
			addValue(ex, protocol.CompletionItemKindValue, "example", "")
		}
	}
	if pointer == "/kube_context" && e.KubeContexts != nil {
		kcs, err := e.KubeContexts(ctx, ConfigKubeconfig(b.req.Doc.Text(), b.req.Format))
		if err != nil {
			return false, fmt.Errorf("listing kube contexts: %w", err)
		}
		for _, kc := range kcs {
			detail := "kube context"
			if kc.Current {
				detail = "current kube context"
			}
			doc := ""
			if kc.Cluster != "" {
				doc = "Cluster `" + kc.Cluster + "`"
				if kc.Namespace != "" {
					doc += ", namespace `" + kc.Namespace + "`"
				}
			}
			it := protocol.CompletionItem{Label: kc.Name, Kind: protocol.CompletionItemKindReference, Detail: detail, FilterText: b.valueFilter(kc.Name), Preselect: kc.Current}
			if doc != "" {
				it.Documentation = &protocol.MarkupContent{Kind: protocol.Markdown, Value: doc}
			}
			b.add(it, b.valueText(kc.Name), false)
		}
	}
	if field, kindKey, ok := clusterFieldOf(pointer); ok && e.Cluster != nil {
		ans, err := e.Cluster.CompleteCluster(ctx, targets.ClusterQuery{
			Field: field, Pointer: pointer, Prefix: b.c.Prefix, Kind: kindKey,
			Document: b.req.Doc.Text(), Format: b.req.Format, Offset: b.req.Offset, Path: b.req.Path,
		})
		if err != nil {
			return false, fmt.Errorf("cluster completion for %s: %w", pointer, err)
		}
		for _, v := range ans.Values {
			it := protocol.CompletionItem{Label: v.Value, Kind: protocol.CompletionItemKindReference, Detail: v.Detail, FilterText: b.valueFilter(v.Value)}
			if v.Documentation != "" {
				it.Documentation = &protocol.MarkupContent{Kind: protocol.Markdown, Value: v.Documentation}
			}
			b.add(it, b.valueText(v.Value), false)
		}
		incomplete = ans.Incomplete
	}
	return incomplete, nil
}

// --- templates ---

func (e *Engine) completeTemplate(b *builder) {
	if b.c.InFilter {
		for _, f := range sortedDocs(e.Filters) {
			it := protocol.CompletionItem{Label: f.Name, Kind: protocol.CompletionItemKindFunction, Detail: f.Signature}
			if f.Description != "" {
				it.Documentation = &protocol.MarkupContent{Kind: protocol.Markdown, Value: f.Description}
			}
			text, snippet := templateSnippet(f)
			b.add(it, text, snippet)
		}
		return
	}
	for _, v := range e.Variables {
		it := protocol.CompletionItem{Label: v.Name, Kind: protocol.CompletionItemKindVariable, Detail: "template variable"}
		if v.Description != "" {
			it.Documentation = &protocol.MarkupContent{Kind: protocol.Markdown, Value: v.Description}
		}
		b.add(it, v.Name, false)
	}
	for _, f := range sortedDocs(e.Functions) {
		it := protocol.CompletionItem{Label: f.Name, Kind: protocol.CompletionItemKindFunction, Detail: f.Signature}
		if f.Description != "" {
			it.Documentation = &protocol.MarkupContent{Kind: protocol.Markdown, Value: f.Description}
		}
		text, snippet := templateSnippet(f)
		if !snippet {
			text, snippet = f.Name+"($1)", true
		}
		b.add(it, text, snippet)
	}
}

// templateSnippet turns a signature such as `get_env(name="VAR",
// default=...)` into `get_env(name="${1:VAR}", default=$2)`. A signature
// without arguments gives the bare name.
func templateSnippet(d TemplateDoc) (string, bool) {
	open := strings.IndexByte(d.Signature, '(')
	closeIdx := strings.LastIndexByte(d.Signature, ')')
	if open < 0 || closeIdx < open {
		return d.Name, false
	}
	args := strings.TrimSpace(d.Signature[open+1 : closeIdx])
	if args == "" {
		return d.Name + "()", false
	}
	var parts []string
	for i, arg := range splitArgs(args) {
		k, v, found := strings.Cut(strings.TrimSpace(arg), "=")
		n := itoa(i + 1)
		switch {
		case !found:
			parts = append(parts, "${"+n+":"+escapeSnippet(k)+"}")
		case v == "...":
			parts = append(parts, k+"=$"+n)
		case len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0]:
			parts = append(parts, k+"="+string(v[0])+"${"+n+":"+escapeSnippet(v[1:len(v)-1])+"}"+string(v[0]))
		default:
			parts = append(parts, k+"=${"+n+":"+escapeSnippet(v)+"}")
		}
	}
	return d.Name + "(" + strings.Join(parts, ", ") + ")", true
}

// splitArgs splits on commas outside quotes.
func splitArgs(s string) []string {
	var out []string
	var q byte
	start := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == ',':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func itoa(i int) string { return fmt.Sprint(i) }

func sortedDocs(docs []TemplateDoc) []TemplateDoc {
	out := append([]TemplateDoc(nil), docs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

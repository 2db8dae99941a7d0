package tera

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/flosch/pongo2/v6"
)

// siteKind says what a call from the pongo2 program to the runtime does.
type siteKind int

const (
	siteText        siteKind = iota // write a literal text segment
	siteOutput                      // evaluate {{ expr }} and write it
	siteCond                        // evaluate an if/elif condition
	siteLoop                        // evaluate a for loop's container
	siteSet                         // {% set %} / {% set_global %}
	siteBreak                       // {% break %}
	siteContinue                    // {% continue %}
	siteFilterBegin                 // start capturing a {% filter %} body
	siteFilterEnd                   // apply the filter to the captured body
)

// site is one place where the pongo2 program calls back into the runtime.
type site struct {
	kind  siteKind
	sc    scope // enclosing loops, outermost first
	text  pos   // siteText: the literal span
	tag   pos   // the tag's span
	e     expr
	set   *setNode
	loop  int // siteLoop: the loop id
	fnode *forNode
	fb    *filterBlock
	fbEnd int // siteFilterBegin: the site id of its end
}

// program is a template compiled to a pongo2 template plus the sites its
// calls refer to.
type program struct {
	src   string
	sites []site
	loops []*forNode
	p2src strings.Builder
	// run is the range of consecutive straight-line sites (text, output,
	// set, break, continue, filter markers) not yet emitted; they become
	// one call, {{ x(first, last) }}.
	runFirst, runLast int
	inRun             bool
}

// compile turns the Tera AST into pongo2 source (call flush after the
// top-level call). The generated pongo2 program only drives the control
// flow; every piece of output and every expression is a call back into the
// runtime, e.g.
//
//	{{ x(0, 2) }}{% if c(3) %}{{ x(4, 4) }}{% endif %}{% for it in l(5) %}{{ i(5, it) }}...{% endfor %}
func (pg *program) compile(nodes []node, sc scope) {
	for _, n := range nodes {
		switch n := n.(type) {
		case textNode:
			pg.emitSite(site{kind: siteText, sc: sc, text: pos(n), tag: pos(n)})
		case outputNode:
			pg.emitSite(site{kind: siteOutput, sc: sc, tag: n.tag, e: n.e})
		case setNode:
			pg.emitSite(site{kind: siteSet, sc: sc, tag: n.tag, set: &n})
		case loopControl:
			k := siteContinue
			if n.isBreak {
				k = siteBreak
			}
			pg.emitSite(site{kind: k, sc: sc, tag: n.tag})
		case ifNode:
			for i, b := range n.branches {
				id := pg.addSite(site{kind: siteCond, sc: sc, tag: b.tag, e: b.cond})
				kw := "if"
				if i > 0 {
					kw = "elif"
				}
				pg.flush()
				fmt.Fprintf(&pg.p2src, "{%% %s c(%d) %%}", kw, id)
				pg.compile(b.body, sc)
			}
			if n.elseBody != nil {
				pg.flush()
				pg.p2src.WriteString("{% else %}")
				pg.compile(n.elseBody, sc)
			}
			pg.flush()
			pg.p2src.WriteString("{% endif %}")
		case forNode:
			loopID := len(pg.loops)
			pg.loops = append(pg.loops, &n)
			id := pg.addSite(site{kind: siteLoop, sc: sc, tag: n.tag, e: n.iter, loop: loopID, fnode: &n})
			pg.flush()
			fmt.Fprintf(&pg.p2src, "{%% for it in l(%d) %%}{{ i(%d, it) }}", id, id)
			inner := make(scope, len(sc)+1)
			copy(inner, sc)
			inner[len(sc)] = loopID
			pg.compile(n.body, inner)
			if n.emptyBody != nil {
				pg.flush()
				pg.p2src.WriteString("{% empty %}")
				pg.compile(n.emptyBody, sc)
			}
			pg.flush()
			pg.p2src.WriteString("{% endfor %}")
		case filterBlock:
			begin := pg.emitSite(site{kind: siteFilterBegin, sc: sc, tag: n.tag, fb: &n})
			pg.compile(n.body, sc)
			end := pg.emitSite(site{kind: siteFilterEnd, sc: sc, tag: pos{n.tag.start, n.end.end}, fb: &n})
			pg.sites[begin].fbEnd = end
		}
	}
}

func (pg *program) addSite(s site) int {
	pg.sites = append(pg.sites, s)
	return len(pg.sites) - 1
}

// emitSite adds a straight-line site to the current run.
func (pg *program) emitSite(s site) int {
	id := pg.addSite(s)
	if pg.inRun && id == pg.runLast+1 {
		pg.runLast = id
		return id
	}
	pg.flush()
	pg.runFirst, pg.runLast, pg.inRun = id, id, true
	return id
}

// flush emits the pending run of straight-line sites.
func (pg *program) flush() {
	if !pg.inRun {
		return
	}
	pg.p2src.WriteString("{{ x(")
	pg.p2src.WriteString(strconv.Itoa(pg.runFirst))
	pg.p2src.WriteString(", ")
	pg.p2src.WriteString(strconv.Itoa(pg.runLast))
	pg.p2src.WriteString(") }}")
	pg.inRun = false
}

// runtime is the state of one render.
type runtime struct {
	src     string
	prog    *program
	vars    map[string]any
	env     func(string) (string, bool)
	globals map[string]any
	loops   []*loopState
	out     strings.Builder
	segs    []segment
	capture []captureMark
	steps   int
	err     *Error
}

type captureMark struct {
	site   int // the filter's begin site
	outLen int
	segLen int
}

// fail records the first error and returns it for pongo2 to stop on.
func (rt *runtime) fail(err *Error) error {
	if rt.err == nil {
		rt.err = err
	}
	return rt.err
}

// dead reports whether a site is skipped because an enclosing loop hit
// {% break %} or {% continue %}.
func (rt *runtime) dead(sc scope) bool {
	for _, id := range sc {
		if ls := rt.loops[id]; ls != nil && (ls.broken || ls.continued) {
			return true
		}
	}
	return false
}

func (rt *runtime) step(s *site) error {
	rt.steps++
	if rt.steps > maxSteps {
		return rt.fail(errAt(s.tag.start, s.tag.end, fmt.Sprintf("template is too expensive: more than %d evaluation steps", maxSteps)))
	}
	return nil
}

func (rt *runtime) write(text string, seg segment) error {
	if rt.out.Len()+len(text) > maxOutput {
		return rt.fail(errAt(seg.src, seg.srcEnd, fmt.Sprintf("rendered output is too large (more than %d bytes)", maxOutput)))
	}
	if text == "" {
		return nil
	}
	seg.out = rt.out.Len()
	seg.n = len(text)
	rt.out.WriteString(text)
	rt.segs = append(rt.segs, seg)
	return nil
}

// callX runs the straight-line sites first..last: text, output, set,
// break, continue and filter markers.
func (rt *runtime) callX(first, last int) (string, error) {
	if rt.err != nil {
		return "", rt.err
	}
	if first < 0 || last < first || last >= len(rt.prog.sites) {
		return "", rt.fail(errAt(0, len(rt.src), "internal error: bad site"))
	}
	for id := first; id <= last; id++ {
		if err := rt.runSite(id); err != nil {
			return "", err
		}
	}
	return "", nil
}

func (rt *runtime) runSite(id int) error {
	s := &rt.prog.sites[id]
	if err := rt.step(s); err != nil {
		return err
	}
	if s.kind == siteFilterEnd {
		return rt.endFilter(id, s)
	}
	if rt.dead(s.sc) {
		return nil
	}
	switch s.kind {
	case siteText:
		return rt.write(rt.src[s.text.start:s.text.end], segment{src: s.text.start, srcEnd: s.text.end, literal: true})
	case siteOutput:
		v, err := rt.eval(s.e, s.sc)
		if err != nil {
			return rt.fail(err)
		}
		return rt.write(printValue(v), segment{src: s.tag.start, srcEnd: s.tag.end})
	case siteSet:
		v, err := rt.eval(s.set.e, s.sc)
		if err != nil {
			return rt.fail(err)
		}
		if s.set.global || len(s.sc) == 0 {
			rt.globals[s.set.name] = v
		} else {
			ls := rt.loops[s.sc[len(s.sc)-1]]
			if ls.frame == nil {
				ls.frame = map[string]any{}
			}
			ls.frame[s.set.name] = v
		}
	case siteBreak:
		rt.loops[s.sc[len(s.sc)-1]].broken = true
	case siteContinue:
		rt.loops[s.sc[len(s.sc)-1]].continued = true
	case siteFilterBegin:
		rt.capture = append(rt.capture, captureMark{site: id, outLen: rt.out.Len(), segLen: len(rt.segs)})
	}
	return nil
}

// endFilter applies a {% filter %} block's filter to the output captured
// since its begin site. It runs even after a break, so what the loop wrote
// before breaking is filtered too.
func (rt *runtime) endFilter(id int, s *site) error {
	if len(rt.capture) == 0 {
		return nil
	}
	top := rt.capture[len(rt.capture)-1]
	if rt.prog.sites[top.site].fbEnd != id {
		return nil // the begin site was skipped
	}
	rt.capture = rt.capture[:len(rt.capture)-1]
	all := rt.out.String()
	body := all[top.outLen:]
	v, err := rt.applyFilter(s.fb.f, body, s.sc)
	if err != nil {
		return rt.fail(err)
	}
	rt.out.Reset()
	rt.out.WriteString(all[:top.outLen])
	rt.segs = rt.segs[:top.segLen]
	return rt.write(printValue(v), segment{src: s.tag.start, srcEnd: s.tag.end})
}

// callC evaluates an if/elif condition.
func (rt *runtime) callC(id int) (bool, error) {
	if rt.err != nil {
		return false, rt.err
	}
	if id < 0 || id >= len(rt.prog.sites) {
		return false, rt.fail(errAt(0, len(rt.src), "internal error: bad site"))
	}
	s := &rt.prog.sites[id]
	if err := rt.step(s); err != nil {
		return false, err
	}
	if rt.dead(s.sc) {
		return false, nil
	}
	b, err := rt.cond(s.e, s.sc)
	if err != nil {
		return false, rt.fail(err)
	}
	return b, nil
}

// callL starts a for loop and returns the indexes pongo2 iterates over.
func (rt *runtime) callL(id int) ([]int, error) {
	if rt.err != nil {
		return nil, rt.err
	}
	if id < 0 || id >= len(rt.prog.sites) {
		return nil, rt.fail(errAt(0, len(rt.src), "internal error: bad site"))
	}
	s := &rt.prog.sites[id]
	if err := rt.step(s); err != nil {
		return nil, err
	}
	if rt.dead(s.sc) {
		return nil, nil
	}
	v, err := rt.eval(s.e, s.sc)
	if err != nil {
		return nil, rt.fail(err)
	}
	keys, vals, err := rt.iterate(s.fnode, v)
	if err != nil {
		return nil, rt.fail(err)
	}
	rt.steps += len(vals)
	if rt.steps > maxSteps {
		return nil, rt.fail(errAt(s.tag.start, s.tag.end, fmt.Sprintf("template is too expensive: more than %d evaluation steps", maxSteps)))
	}
	rt.loops[s.loop] = &loopState{node: s.fnode, keys: keys, vals: vals}
	idx := make([]int, len(vals))
	for i := range idx {
		idx[i] = i
	}
	return idx, nil
}

// callI starts one iteration of a for loop.
func (rt *runtime) callI(id, idx int) (string, error) {
	if rt.err != nil {
		return "", rt.err
	}
	if id < 0 || id >= len(rt.prog.sites) || rt.prog.sites[id].kind != siteLoop {
		return "", rt.fail(errAt(0, len(rt.src), "internal error: bad site"))
	}
	s := &rt.prog.sites[id]
	if err := rt.step(s); err != nil {
		return "", err
	}
	ls := rt.loops[s.loop]
	if ls == nil || idx < 0 || idx >= len(ls.vals) {
		return "", rt.fail(errAt(s.tag.start, s.tag.end, "internal error: bad loop index"))
	}
	ls.cur = idx
	ls.continued = false
	return "", nil
}

// execute runs the compiled program with pongo2.
func (rt *runtime) execute() (err *Error) {
	defer func() {
		if r := recover(); r != nil {
			err = errAt(0, len(rt.src), fmt.Sprintf("internal template error: %v", r))
		}
	}()
	set := pongo2.NewSet("tera", noFiles{})
	tpl, perr := set.FromString(rt.prog.p2src.String())
	if perr != nil {
		return errAt(0, len(rt.src), "internal template error: "+perr.Error())
	}
	ctx := pongo2.Context{"x": rt.callX, "c": rt.callC, "l": rt.callL, "i": rt.callI}
	if xerr := tpl.ExecuteWriterUnbuffered(ctx, io.Discard); xerr != nil {
		if rt.err != nil {
			return rt.err
		}
		return errAt(0, len(rt.src), "internal template error: "+xerr.Error())
	}
	if rt.err != nil {
		return rt.err
	}
	return nil
}

// noFiles is a pongo2 template loader that refuses every file: templates
// can read environment variables and nothing else.
type noFiles struct{}

func (noFiles) Abs(base, name string) string { return name }
func (noFiles) Get(path string) (io.Reader, error) {
	return nil, errors.New("templates cannot read files")
}

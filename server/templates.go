package server

import (
	"github.com/mirrord-ls/mirrord-ls/schema/tera"
	"github.com/mirrord-ls/mirrord-ls/server/assist"
)

// templateDocs lists the template functions, filters and variables offered
// inside {{ }}: the renderer's own documentation, so completion never
// proposes what the renderer does not know.
func templateDocs() (functions, filters []assist.TemplateDoc, vars []assist.TemplateVariable) {
	for _, d := range tera.Functions() {
		functions = append(functions, assist.TemplateDoc{Name: d.Name, Signature: d.Signature, Description: d.Description})
	}
	for _, d := range tera.Filters() {
		filters = append(filters, assist.TemplateDoc{Name: d.Name, Signature: d.Signature, Description: d.Description})
	}
	vars = []assist.TemplateVariable{
		{Name: "git_branch", Description: "The current git branch: MIRRORD_BRANCH_NAME when set, else the branch of the workspace. Undefined on a detached HEAD; write `{{ git_branch | default(value='main') }}`."},
		{Name: "key", Description: "The session key (`key` in the config, `--key`, or a generated one)."},
	}
	return functions, filters, vars
}

package resolve

import (
	"encoding/json"
)

// convertMap decodes an unstructured map into a typed value.
func convertMap(m map[string]any, into any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}

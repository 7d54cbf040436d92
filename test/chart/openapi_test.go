package chart

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
)

// The Kubernetes types the chart's values take (resources, tolerations,
// affinity, ...) are checked by values.schema.json with schemas converted
// from the test kube-apiserver's OpenAPI v3, and kubeconform validates the
// renders with per-kind schemas converted the same way. This file fetches
// that OpenAPI and converts it.

// openAPIDocs caches the API server's OpenAPI v3 documents, by path
// ("api/v1", "apis/apps/v1", ...).
var openAPIDocs struct {
	sync.Mutex
	docs map[string]map[string]any
}

// openAPIGet fetches a path of the API server with the test's credentials.
func openAPIGet(t *testing.T, path string) []byte {
	t.Helper()
	httpClient, err := rest.HTTPClientFor(restConfig)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpClient.Get(strings.TrimSuffix(restConfig.Host, "/") + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%.300s", path, resp.Status, body)
	}
	return body
}

// openAPI returns every OpenAPI v3 document the API server serves, by
// path, fetched once per test binary.
func openAPI(t *testing.T) map[string]map[string]any {
	t.Helper()
	openAPIDocs.Lock()
	defer openAPIDocs.Unlock()
	if openAPIDocs.docs != nil {
		return openAPIDocs.docs
	}
	var index struct {
		Paths map[string]struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(openAPIGet(t, "/openapi/v3"), &index); err != nil {
		t.Fatal(err)
	}
	docs := map[string]map[string]any{}
	for path, p := range index.Paths {
		if !strings.HasPrefix(path, "api/") && !strings.HasPrefix(path, "apis/") {
			continue
		}
		var doc map[string]any
		if err := json.Unmarshal(openAPIGet(t, p.ServerRelativeURL), &doc); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		docs[path] = doc
	}
	openAPIDocs.docs = docs
	return docs
}

// openAPISchemas returns the component schemas of every document, by name
// (io.k8s.api.core.v1.Toleration, ...). A name served by several
// documents has the same schema in each.
func openAPISchemas(t *testing.T) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, doc := range openAPI(t) {
		components, _ := doc["components"].(map[string]any)
		schemas, _ := components["schemas"].(map[string]any)
		for name, s := range schemas {
			out[name] = s.(map[string]any)
		}
	}
	return out
}

// schemaConverter turns OpenAPI v3 component schemas, as the API server
// serves them, into JSON Schema draft-07 definitions that are as strict as
// the API server's field validation: an object with properties takes no
// others (additionalProperties: false) unless it preserves unknown fields,
// and extensions, descriptions, defaults and formats are dropped.
type schemaConverter struct {
	source map[string]map[string]any
	// definitions are the converted schemas, by name; refs point at
	// #/definitions/<name>.
	definitions map[string]any
	// overrides tighten a converted definition where the OpenAPI says less
	// than the API server's validation does.
	overrides map[string]func(def map[string]any)
}

const componentRef = "#/components/schemas/"

func newSchemaConverter(source map[string]map[string]any) *schemaConverter {
	return &schemaConverter{source: source, definitions: map[string]any{}}
}

// ref converts the named schema into definitions, once, and returns a
// reference to it.
func (c *schemaConverter) ref(name string) (map[string]any, error) {
	if _, done := c.definitions[name]; !done {
		src, ok := c.source[name]
		if !ok {
			return nil, fmt.Errorf("the API server's OpenAPI has no schema %s", name)
		}
		c.definitions[name] = nil // converting: a cycle refers back here
		def, err := c.convert(src)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if o := c.overrides[name]; o != nil {
			o(def)
		}
		c.definitions[name] = def
	}
	return map[string]any{"$ref": "#/definitions/" + name}, nil
}

// convert converts one schema and every schema it refers to.
func (c *schemaConverter) convert(s map[string]any) (map[string]any, error) {
	if ref, ok := s["$ref"].(string); ok {
		return c.ref(strings.TrimPrefix(ref, componentRef))
	}
	// A reference with a default or description beside it comes as
	// allOf: [{$ref}].
	if all, ok := s["allOf"].([]any); ok && len(all) == 1 {
		if ref, ok := all[0].(map[string]any)["$ref"].(string); ok {
			return c.ref(strings.TrimPrefix(ref, componentRef))
		}
	}
	out := map[string]any{}
	if _, oneOf := s["oneOf"]; !oneOf && (s["x-kubernetes-int-or-string"] == true || s["format"] == "int-or-string") {
		out["anyOf"] = []any{map[string]any{"type": "integer"}, map[string]any{"type": "string"}}
	} else if typ, ok := s["type"]; ok {
		if s["nullable"] == true {
			out["type"] = []any{typ, "null"}
		} else {
			out["type"] = typ
		}
	}
	for _, key := range []string{"required", "enum", "pattern", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties", "uniqueItems", "multipleOf"} {
		if v, ok := s[key]; ok {
			out[key] = v
		}
	}
	if s["nullable"] == true {
		if enum, ok := out["enum"].([]any); ok {
			out["enum"] = append(enum, nil)
		}
	}
	// OpenAPI 3.0's exclusive bounds are flags on minimum and maximum.
	for _, bound := range []string{"Minimum", "Maximum"} {
		if s["exclusive"+bound] == true {
			out["exclusive"+bound] = out[strings.ToLower(bound)]
			delete(out, strings.ToLower(bound))
		}
	}
	if props, ok := s["properties"].(map[string]any); ok {
		converted := map[string]any{}
		for name, p := range props {
			cp, err := c.convert(p.(map[string]any))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			converted[name] = cp
		}
		out["properties"] = converted
	}
	switch ap := s["additionalProperties"].(type) {
	case bool:
		out["additionalProperties"] = ap
	case map[string]any:
		cap, err := c.convert(ap)
		if err != nil {
			return nil, err
		}
		out["additionalProperties"] = cap
	case nil:
		if _, ok := s["properties"]; ok && s["x-kubernetes-preserve-unknown-fields"] != true {
			out["additionalProperties"] = false
		}
	}
	if items, ok := s["items"].(map[string]any); ok {
		ci, err := c.convert(items)
		if err != nil {
			return nil, err
		}
		out["items"] = ci
	}
	for _, key := range []string{"allOf", "anyOf", "oneOf"} {
		list, ok := s[key].([]any)
		if !ok {
			continue
		}
		var converted []any
		for _, item := range list {
			ci, err := c.convert(item.(map[string]any))
			if err != nil {
				return nil, err
			}
			converted = append(converted, ci)
		}
		out[key] = converted
	}
	if not, ok := s["not"].(map[string]any); ok {
		cn, err := c.convert(not)
		if err != nil {
			return nil, err
		}
		out["not"] = cn
	}
	return out, nil
}

// kindSchema returns a standalone JSON schema for the kind of the group
// version (group "" for the core group), the schemas it refers to under
// definitions, or an error when the API server serves no such kind.
func kindSchema(source map[string]map[string]any, group, version, kind string) ([]byte, error) {
	var names []string
	for name, s := range source {
		gvks, _ := s["x-kubernetes-group-version-kind"].([]any)
		for _, g := range gvks {
			g := g.(map[string]any)
			if g["group"] == group && g["version"] == version && g["kind"] == kind {
				names = append(names, name)
			}
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("the API server serves no schema for %s/%s %s", group, version, kind)
	}
	c := newSchemaConverter(source)
	root, err := c.convert(source[names[0]])
	if err != nil {
		return nil, err
	}
	root["$schema"] = "http://json-schema.org/draft-07/schema#"
	root["definitions"] = c.definitions
	return json.MarshalIndent(root, "", "  ")
}

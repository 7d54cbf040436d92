package argocd

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"
)

const customization = "../../../../config/argocd/resource_customizations/ops.cloudop.dev/CloudOperation"

// TestHealthScriptCases runs the cases of health_test.yaml, in the format
// Argo CD's own resource_customizations tests use.
func TestHealthScriptCases(t *testing.T) {
	script, err := os.ReadFile(filepath.Join(customization, "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(customization, "health_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var suite struct {
		Tests []struct {
			HealthStatus struct {
				Status  string `json:"status"`
				Message string `json:"message"`
			} `json:"healthStatus"`
			InputPath string `json:"inputPath"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal(raw, &suite); err != nil {
		t.Fatal(err)
	}
	if len(suite.Tests) < 5 {
		t.Fatalf("only %d cases", len(suite.Tests))
	}
	for _, tc := range suite.Tests {
		t.Run(tc.InputPath, func(t *testing.T) {
			input, err := os.ReadFile(filepath.Join(customization, tc.InputPath))
			if err != nil {
				t.Fatal(err)
			}
			var obj map[string]any
			if err := yaml.Unmarshal(input, &obj); err != nil {
				t.Fatal(err)
			}
			got, err := Evaluate(string(script), obj)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tc.HealthStatus.Status || got.Message != tc.HealthStatus.Message {
				t.Errorf("got %s %q, want %s %q", got.Status, got.Message, tc.HealthStatus.Status, tc.HealthStatus.Message)
			}
		})
	}
}

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// disruptionBudgets returns a PodDisruptionBudget for each Deployment of
// the rendered manifest that runs more than one replica, as YAML documents
// to append to it: minAvailable 1 over the Deployment's own selector, named
// after it, so a node drain evicts the manager's pods one at a time while a
// standby stays up to take the lease. A single replica gets none: any PDB
// that protected it would block every drain. The chart renders the same
// (podDisruptionBudget, on by default); test/chart compares the two.
func disruptionBudgets(manifest []byte) ([]byte, error) {
	var out bytes.Buffer
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	for {
		var obj struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string            `json:"name"`
				Namespace string            `json:"namespace"`
				Labels    map[string]string `json:"labels,omitempty"`
			} `json:"metadata"`
			Spec struct {
				Replicas *int32         `json:"replicas"`
				Selector map[string]any `json:"selector"`
			} `json:"spec"`
		}
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			return out.Bytes(), nil
		} else if err != nil {
			return nil, fmt.Errorf("reading the rendered manifest: %w", err)
		}
		// A Deployment without replicas runs one.
		if obj.APIVersion != "apps/v1" || obj.Kind != "Deployment" || obj.Spec.Replicas == nil || *obj.Spec.Replicas < 2 {
			continue
		}
		if len(obj.Spec.Selector) == 0 {
			return nil, fmt.Errorf("Deployment %s/%s has no selector", obj.Metadata.Namespace, obj.Metadata.Name)
		}
		meta := map[string]any{"name": obj.Metadata.Name, "namespace": obj.Metadata.Namespace}
		if len(obj.Metadata.Labels) > 0 {
			meta["labels"] = obj.Metadata.Labels
		}
		pdb := map[string]any{
			"apiVersion": "policy/v1",
			"kind":       "PodDisruptionBudget",
			"metadata":   meta,
			"spec": map[string]any{
				"minAvailable": 1,
				"selector":     obj.Spec.Selector,
			},
		}
		doc, err := yaml.Marshal(pdb)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&out, "---\n# %d replicas of %s: one at a time may be evicted (added by hack/release).\n", *obj.Spec.Replicas, obj.Metadata.Name)
		out.Write(doc)
	}
}

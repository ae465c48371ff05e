// Command kstatus prints the status that kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status),
// the library Flux and kpt wait with, computes for Kubernetes objects read from files.
//
// vmroll's tests run it over status objects captured from real runs, so that what Flux would
// say about a VirtualMachinePool is checked with Flux's own code rather than a re-implementation.
// Each argument is a YAML or JSON file holding one object; one JSON line per file is printed:
// {"path": ..., "status": "Current|InProgress|Failed|...", "message": ...}.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

type verdict struct {
	Path    string `json:"path"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func compute(path string) (verdict, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return verdict{}, err
	}
	// Through JSON into Unstructured, as a client reads objects: integers stay int64, which
	// kstatus's generation checks need.
	document, err := yaml.YAMLToJSON(data)
	if err != nil {
		return verdict{}, fmt.Errorf("%s: %w", path, err)
	}
	object := &unstructured.Unstructured{}
	if err := object.UnmarshalJSON(document); err != nil {
		return verdict{}, fmt.Errorf("%s: %w", path, err)
	}
	result, err := status.Compute(object)
	if err != nil {
		return verdict{}, fmt.Errorf("%s: %w", path, err)
	}
	return verdict{Path: path, Status: result.Status.String(), Message: result.Message}, nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kstatus FILE...")
		os.Exit(2)
	}
	encoder := json.NewEncoder(os.Stdout)
	for _, path := range os.Args[1:] {
		result, err := compute(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := encoder.Encode(result); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

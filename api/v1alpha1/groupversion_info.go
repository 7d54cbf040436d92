// Package v1alpha1 contains the CloudOperation API of the ops.cloudop.dev
// group. It depends on apimachinery only, so other controllers can import it
// to watch CloudOperations without pulling in cloudop's internals.
//
// +kubebuilder:object:generate=true
// +groupName=ops.cloudop.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "ops.cloudop.dev", Version: "v1alpha1"}

	// SchemeBuilder registers this API's types with a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds this API's types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion, &CloudOperation{}, &CloudOperationList{}, &CloudOperationSource{}, &CloudOperationSourceList{})
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}

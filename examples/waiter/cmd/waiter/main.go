// Command waiter runs the example controller of package waiter against the
// current kubeconfig: it gates ConfigMaps labelled
// example.cloudop.dev/wait-for on the CloudOperations they name.
package main

import (
	"os"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	v1alpha1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/examples/waiter"
)

func main() {
	ctrl.SetLogger(zap.New())
	log := ctrl.Log.WithName("waiter")
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(v1alpha1.AddToScheme(scheme))
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme: scheme,
		// Cache only the ConfigMaps that wait, not every ConfigMap in the
		// cluster.
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			&corev1.ConfigMap{}: {Label: waiter.Selector()},
		}},
		LeaderElection:   true,
		LeaderElectionID: "waiter.example.cloudop.dev",
	})
	if err == nil {
		err = (&waiter.Reconciler{Client: mgr.GetClient()}).SetupWithManager(mgr)
	}
	if err == nil {
		err = mgr.Start(ctrl.SetupSignalHandler())
	}
	if err != nil {
		log.Error(err, "waiter stopped")
		os.Exit(1)
	}
}

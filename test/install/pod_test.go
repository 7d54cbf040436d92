package install

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// tokenMountPath is where the kubelet mounts a pod's ServiceAccount token,
// CA and namespace; client-go's in-cluster configuration reads them there.
const tokenMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"

// kubeletPod says where the pod runs: what the kubelet and the cluster
// would provide that the Deployment does not say.
type kubeletPod struct {
	// Name and Namespace are the pod's (for fieldRef env).
	Name, Namespace string
	// Image replaces the container's image reference (the loaded tag).
	Image string
	// APIHost and APIPort are the kubernetes Service's address, given to
	// the container as KUBERNETES_SERVICE_HOST/PORT.
	APIHost, APIPort string
	// TokenDir holds token, ca.crt and namespace for the token mount.
	TokenDir string
}

// dockerRunArgs translates the named container of a Deployment's pod
// template into `docker run` arguments the way the kubelet would run it:
// its args and env (resourceFieldRef and fieldRef resolved), security
// context (user, read-only root, dropped capabilities, no new
// privileges), memory and CPU limits, emptyDir volumes as tmpfs, and the
// ServiceAccount token mount. Anything it cannot reproduce faithfully is
// an error, so the test is updated rather than silently running something
// else.
func dockerRunArgs(dep *appsv1.Deployment, containerName string, p kubeletPod) ([]string, error) {
	pod := dep.Spec.Template.Spec
	i := slices.IndexFunc(pod.Containers, func(c corev1.Container) bool { return c.Name == containerName })
	if i < 0 {
		return nil, fmt.Errorf("deployment %s has no container %q", dep.Name, containerName)
	}
	ctr := pod.Containers[i]
	args := []string{"run", "--detach", "--network", "host"}

	psc := ptr.Deref(pod.SecurityContext, corev1.PodSecurityContext{})
	sc := ptr.Deref(ctr.SecurityContext, corev1.SecurityContext{})
	user := firstInt64(sc.RunAsUser, psc.RunAsUser)
	group := firstInt64(sc.RunAsGroup, psc.RunAsGroup)
	if ptr.Deref(firstBool(sc.RunAsNonRoot, psc.RunAsNonRoot), false) && user != nil && *user == 0 {
		return nil, fmt.Errorf("runAsNonRoot with runAsUser 0: the kubelet would refuse to start it")
	}
	switch {
	case user != nil && group != nil:
		args = append(args, "--user", fmt.Sprintf("%d:%d", *user, *group))
	case user != nil:
		args = append(args, "--user", strconv.FormatInt(*user, 10))
	}
	if psc.FSGroup != nil {
		args = append(args, "--group-add", strconv.FormatInt(*psc.FSGroup, 10))
	}
	if ptr.Deref(sc.ReadOnlyRootFilesystem, false) {
		args = append(args, "--read-only")
	}
	if !ptr.Deref(sc.AllowPrivilegeEscalation, true) {
		args = append(args, "--security-opt", "no-new-privileges")
	}
	if ptr.Deref(sc.Privileged, false) {
		return nil, fmt.Errorf("privileged containers are not run by this test")
	}
	if sc.Capabilities != nil {
		for _, c := range sc.Capabilities.Drop {
			args = append(args, "--cap-drop", string(c))
		}
		for _, c := range sc.Capabilities.Add {
			args = append(args, "--cap-add", string(c))
		}
	}
	if mem, ok := ctr.Resources.Limits[corev1.ResourceMemory]; ok {
		args = append(args, "--memory", strconv.FormatInt(mem.Value(), 10))
	}
	if cpu, ok := ctr.Resources.Limits[corev1.ResourceCPU]; ok {
		args = append(args, "--cpus", strconv.FormatFloat(float64(cpu.MilliValue())/1000, 'f', 3, 64))
	}

	env := []string{"KUBERNETES_SERVICE_HOST=" + p.APIHost, "KUBERNETES_SERVICE_PORT=" + p.APIPort}
	for _, e := range ctr.Env {
		v, err := envValue(e, ctr, p)
		if err != nil {
			return nil, err
		}
		env = append(env, e.Name+"="+v)
	}
	for _, e := range env {
		args = append(args, "--env", e)
	}
	if len(ctr.EnvFrom) > 0 {
		return nil, fmt.Errorf("envFrom is not reproduced by this test")
	}

	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	for _, m := range ctr.VolumeMounts {
		v, ok := volumes[m.Name]
		switch {
		case !ok:
			return nil, fmt.Errorf("volume mount %q names no volume", m.Name)
		case v.EmptyDir != nil:
			args = append(args, "--tmpfs", m.MountPath+":uid="+strconv.FormatInt(ptr.Deref(user, 0), 10))
		default:
			return nil, fmt.Errorf("volume %q: only emptyDir volumes are reproduced by this test", m.Name)
		}
	}
	if ptr.Deref(pod.AutomountServiceAccountToken, true) {
		args = append(args, "--volume", p.TokenDir+":"+tokenMountPath+":ro")
	}
	if ctr.WorkingDir != "" {
		args = append(args, "--workdir", ctr.WorkingDir)
	}
	if len(ctr.Command) > 0 {
		args = append(args, "--entrypoint", ctr.Command[0])
	}
	args = append(args, p.Image)
	if len(ctr.Command) > 1 {
		args = append(args, ctr.Command[1:]...)
	}
	return append(args, ctr.Args...), nil
}

// envValue resolves one env entry as the kubelet would for this pod.
func envValue(e corev1.EnvVar, ctr corev1.Container, p kubeletPod) (string, error) {
	from := e.ValueFrom
	switch {
	case from == nil:
		return e.Value, nil
	case from.ResourceFieldRef != nil:
		ref := from.ResourceFieldRef
		var q resource.Quantity
		var ok bool
		switch ref.Resource {
		case "limits.memory":
			q, ok = ctr.Resources.Limits[corev1.ResourceMemory]
		case "requests.memory":
			q, ok = ctr.Resources.Requests[corev1.ResourceMemory]
		case "limits.cpu":
			q, ok = ctr.Resources.Limits[corev1.ResourceCPU]
		case "requests.cpu":
			q, ok = ctr.Resources.Requests[corev1.ResourceCPU]
		default:
			return "", fmt.Errorf("env %s: resource %q not reproduced by this test", e.Name, ref.Resource)
		}
		if !ok {
			return "", fmt.Errorf("env %s: %s is not set (the kubelet would use the node's allocatable)", e.Name, ref.Resource)
		}
		divisor := ref.Divisor
		if divisor.IsZero() {
			divisor = resource.MustParse("1")
		}
		if strings.HasSuffix(ref.Resource, "cpu") {
			return strconv.FormatInt((q.MilliValue()+divisor.MilliValue()-1)/divisor.MilliValue(), 10), nil
		}
		return strconv.FormatInt((q.Value()+divisor.Value()-1)/divisor.Value(), 10), nil
	case from.FieldRef != nil:
		switch from.FieldRef.FieldPath {
		case "metadata.name":
			return p.Name, nil
		case "metadata.namespace":
			return p.Namespace, nil
		case "status.podIP", "status.hostIP":
			return p.APIHost, nil
		}
		return "", fmt.Errorf("env %s: fieldRef %q not reproduced by this test", e.Name, from.FieldRef.FieldPath)
	}
	return "", fmt.Errorf("env %s: secretKeyRef/configMapKeyRef not reproduced by this test", e.Name)
}

// probePort resolves an HTTP probe's port (a number or a container port
// name).
func probePort(ctr corev1.Container, probe *corev1.Probe) (int, error) {
	if probe == nil || probe.HTTPGet == nil {
		return 0, fmt.Errorf("container %s: no HTTP probe", ctr.Name)
	}
	return containerPort(ctr, probe.HTTPGet.Port)
}

func containerPort(ctr corev1.Container, port intstr.IntOrString) (int, error) {
	if port.Type == intstr.Int {
		return port.IntValue(), nil
	}
	for _, p := range ctr.Ports {
		if p.Name == port.StrVal {
			return int(p.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("container %s has no port named %q", ctr.Name, port.StrVal)
}

func firstInt64(vs ...*int64) *int64 {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}

func firstBool(vs ...*bool) *bool {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}

// TestDockerRunArgs: the translation reproduces what the kubelet applies,
// and refuses what it cannot reproduce.
func TestDockerRunArgs(t *testing.T) {
	p := kubeletPod{Name: "cloudop-manager-0", Namespace: "cloudop-system", Image: "img:v1", APIHost: "127.0.0.1", APIPort: "6443", TokenDir: "/tmp/tok"}
	hardened := func() *appsv1.Deployment {
		d := &appsv1.Deployment{}
		d.Name = "cloudop-manager"
		d.Spec.Template.Spec = corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65532)},
			Volumes:         []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			Containers: []corev1.Container{{
				Name: "manager", Image: "ghcr.io/cloudop/cloudop-manager:v1", Args: []string{"--leader-elect", "--metrics-secure=true"},
				Env: []corev1.EnvVar{
					{Name: "GOMEMLIMIT", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1")}}},
					{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
					{Name: "PLAIN", Value: "x"},
				},
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")}},
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
				VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
			}},
		}
		return d
	}
	t.Run("hardened pod", func(t *testing.T) {
		got, err := dockerRunArgs(hardened(), "manager", p)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"run", "--detach", "--network", "host", "--user", "65532", "--read-only",
			"--security-opt", "no-new-privileges", "--cap-drop", "ALL", "--memory", "268435456",
			"--env", "KUBERNETES_SERVICE_HOST=127.0.0.1", "--env", "KUBERNETES_SERVICE_PORT=6443",
			"--env", "GOMEMLIMIT=268435456", "--env", "POD_NAME=cloudop-manager-0", "--env", "PLAIN=x",
			"--tmpfs", "/tmp:uid=65532", "--volume", "/tmp/tok:" + tokenMountPath + ":ro",
			"img:v1", "--leader-elect", "--metrics-secure=true"}
		if !slices.Equal(got, want) {
			t.Errorf("docker run args\n got %q\nwant %q", got, want)
		}
	})
	for _, tc := range []struct {
		name   string
		mutate func(*appsv1.Deployment)
		want   string
	}{
		{"no such container", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Name = "other" }, `no container "manager"`},
		{"secret volume", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Volumes[0].VolumeSource = corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}
		}, "only emptyDir"},
		{"root with runAsNonRoot", func(d *appsv1.Deployment) { d.Spec.Template.Spec.SecurityContext.RunAsUser = ptr.To[int64](0) }, "kubelet would refuse"},
		{"memory env without a limit", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Resources.Limits = nil }, "limits.memory is not set"},
		{"secret env", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "K", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "k"}}}}
		}, "secretKeyRef"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := hardened()
			tc.mutate(d)
			if _, err := dockerRunArgs(d, "manager", p); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

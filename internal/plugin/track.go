package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// Services are the spec.service values, for reading a service name in any
// letter case; the API server validates the rest. The plugin reads
// CloudOperations through the API module only, so it cannot import the
// service table (internal/cloud): TestServiceTableCopies checks this copy
// against it.
var Services = []opsv1.Service{
	opsv1.ServiceBCS, opsv1.ServiceCCE, opsv1.ServiceAOS, opsv1.ServiceDWS,
	opsv1.ServiceECS, opsv1.ServiceEVS, opsv1.ServiceIMS, opsv1.ServiceBMS, opsv1.ServiceVPC,
	opsv1.ServiceRDS, opsv1.ServiceGaussDB, opsv1.ServiceDDS, opsv1.ServiceGaussDBforOpenGauss,
	opsv1.ServiceGaussDBforNoSQL, opsv1.ServiceRFS,
}

// OperationTypes are the spec.operationType values, read in any letter
// case like Services (and checked with them).
var OperationTypes = []opsv1.OperationType{opsv1.OperationTypeJob, opsv1.OperationTypeUpgradeWorkflow}

type trackOptions struct {
	*options
	spec         opsv1.CloudOperationSpec
	credentials  string
	opType       string
	name         string
	generateName string
	labels       map[string]string
	pollInterval time.Duration
	wait         bool
	timeout      time.Duration
}

func newTrackCommand(o *options) *cobra.Command {
	t := &trackOptions{options: o}
	cmd := &cobra.Command{
		Use:   "track SERVICE --id ID --region REGION --credentials-secret SECRET [flags]",
		Short: "Create a CloudOperation that tracks an operation you started",
		Long: `Create a CloudOperation from the IDs you have from the console or the
hcloud output. SERVICE is one of (in any letter case):
  ` + serviceNames() + `
The API server checks the combination (e.g. CCE upgrade workflows need
--cluster, AOS --stack, RFS --stack-name) and its message is shown field by
field. With --wait, follow the operation like watch until it ends.`,
		Example: `  kubectl cloudop track CCE --id c271e39e-1a6e-4d3d-8fa8-2a36329c68d1 \
      --cluster b4b9e60f-8aa2-11ee-af09-0255ac10004f --region cn-north-4 \
      --credentials-secret huaweicloud-credentials --wait
  kubectl cloudop track ECS --type Job --id ff8080828c5bd2a1018c6cb3b6c12b4c \
      --region cn-north-4 --credentials-secret huaweicloud-credentials`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return t.run(cmd.Context(), args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&t.spec.OperationID, "id", "", "The service's operation ID (spec.operationID)")
	f.StringVar(&t.spec.Region, "region", "", "Cloud region, e.g. cn-north-4")
	f.StringVar(&t.spec.ProjectID, "project", "", "Project ID (optional when the credentials Secret has projectID)")
	f.StringVar(&t.spec.ClusterID, "cluster", "", "CCE or DWS cluster ID")
	f.StringVar(&t.spec.StackID, "stack", "", "AOS stack ID (or RFS stack ID)")
	f.StringVar(&t.spec.StackName, "stack-name", "", "RFS stack name")
	f.StringVar(&t.spec.BlockchainID, "blockchain", "", "BCS blockchain ID")
	f.StringVar(&t.credentials, "credentials-secret", "", "Secret with accessKey and secretKey, in the same namespace")
	f.StringVar(&t.opType, "type", "", "Operation type for services with several: Job or UpgradeWorkflow")
	f.StringVar(&t.name, "name", "", "Name of the CloudOperation")
	f.StringVar(&t.generateName, "generate-name", "", "Name prefix; the API server adds a random suffix (default: the service in lower case and a dash)")
	f.StringToStringVar(&t.labels, "label", nil, "Labels, e.g. --label team=data")
	f.DurationVar(&t.pollInterval, "poll-interval", 0, "How often to poll while it runs (default: the API's, 30s)")
	f.BoolVar(&t.wait, "wait", false, "Follow the operation like watch until it ends")
	f.DurationVar(&t.timeout, "timeout", 0, "With --wait: give up after this long (exit code 3); 0 waits forever")
	for _, req := range []string{"id", "region", "credentials-secret"} {
		_ = cmd.MarkFlagRequired(req)
	}
	return cmd
}

func serviceNames() string {
	names := make([]string, len(Services))
	for i, s := range Services {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// object is the CloudOperation the flags describe.
func (t *trackOptions) object(service, ns string) (*opsv1.CloudOperation, error) {
	if t.name != "" && t.generateName != "" {
		return nil, errors.New("give --name or --generate-name, not both")
	}
	obj := &opsv1.CloudOperation{Spec: t.spec}
	obj.Namespace, obj.Name, obj.GenerateName, obj.Labels = ns, t.name, t.generateName, t.labels
	obj.Spec.Service = opsv1.Service(service)
	for _, s := range Services {
		if strings.EqualFold(service, string(s)) {
			obj.Spec.Service = s
		}
	}
	if obj.Name == "" && obj.GenerateName == "" {
		obj.GenerateName = strings.ToLower(string(obj.Spec.Service)) + "-"
	}
	obj.Spec.OperationType = opsv1.OperationType(t.opType)
	for _, ot := range OperationTypes {
		if strings.EqualFold(t.opType, string(ot)) {
			obj.Spec.OperationType = ot
		}
	}
	obj.Spec.CredentialsSecretRef.Name = t.credentials
	if t.pollInterval > 0 {
		obj.Spec.PollInterval = &metav1.Duration{Duration: t.pollInterval}
	}
	return obj, nil
}

func (t *trackOptions) run(ctx context.Context, service string) error {
	ns, err := t.namespace()
	if err != nil {
		return err
	}
	obj, err := t.object(service, ns)
	if err != nil {
		return err
	}
	c, err := t.client()
	if err != nil {
		return err
	}
	if err := c.Create(ctx, obj); err != nil {
		return admissionError(err)
	}
	fmt.Fprintf(t.rt.Out, "cloudoperation.%s/%s created\n", opsv1.GroupVersion.Group, obj.Name)
	if !t.wait {
		return nil
	}
	w := &watchOptions{options: t.options, timeout: t.timeout}
	return w.follow(ctx, c, ns, obj.Name)
}

// admissionError lists the fields an Invalid answer names, one per line,
// instead of the API server's single long sentence.
func admissionError(err error) error {
	var status apierrors.APIStatus
	if !apierrors.IsInvalid(err) || !errors.As(err, &status) {
		return err
	}
	details := status.Status().Details
	if details == nil || len(details.Causes) == 0 {
		return err
	}
	var b strings.Builder
	b.WriteString("the API server rejected the CloudOperation:")
	for _, c := range details.Causes {
		b.WriteString("\n  ")
		if c.Field != "" {
			b.WriteString(c.Field + ": ")
		}
		b.WriteString(c.Message)
	}
	return errors.New(b.String())
}

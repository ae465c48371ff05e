// The Prometheus Operator's module, for its published ServiceMonitor CRD: the chart's tests
// install it so that the apiserver validates the chart's ServiceMonitor against the real schema.
// Nothing is built from it.
module vmroll.io/hack/monitoring

go 1.26.0

require github.com/prometheus-operator/prometheus-operator v0.85.0

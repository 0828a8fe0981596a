package obs

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are a server's Prometheus metrics. Names follow Prometheus's
// conventions (base units, _total counters); no label takes an unbounded
// value such as a contact id.
type Metrics struct {
	reg *prometheus.Registry

	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	throttled    *prometheus.CounterVec
	authFailures *prometheus.CounterVec

	commits       prometheus.Counter
	items         prometheus.Counter
	batch         prometheus.Histogram
	commitSeconds prometheus.Histogram
	syncSeconds   prometheus.Histogram

	verdicts     *prometheus.CounterVec
	checkSeconds prometheus.Histogram
	scanSeconds  prometheus.Histogram

	pruned *prometheus.CounterVec

	// perRequest holds the request series by operation and status, as
	// request looked them up last: WithLabelValues hashes the labels and
	// takes the vector's lock on every request.
	perRequest sync.Map // requestSeries → requestMetrics
}

type requestSeries struct {
	op     string
	status int
}

type requestMetrics struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// NewMetrics makes a registry with Parley's metrics and Go's and the
// process's own.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{reg: reg}
	latency := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_http_requests_total",
		Help: "HTTP requests answered, by API operation and status code."}, []string{"operation", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "parley_http_request_duration_seconds",
		Help: "Time to answer an HTTP request, by API operation.", Buckets: latency}, []string{"operation"})
	m.throttled = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_http_throttled_requests_total",
		Help: "Requests answered 429 ThrottlingException, by API operation."}, []string{"operation"})
	m.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_http_auth_failures_total",
		Help: "Requests refused 401 or 403, by API operation."}, []string{"operation"})
	m.commits = prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_store_commits_total",
		Help: "Transactions the store committed (each a batch of changes)."})
	m.items = prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_store_items_committed_total",
		Help: "Chat items (messages, events, attachments) committed."})
	m.batch = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "parley_store_batch_changes",
		Help: "Changes committed together in one transaction (group commit).", Buckets: prometheus.ExponentialBuckets(1, 2, 10)})
	m.commitSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "parley_store_commit_duration_seconds",
		Help: "Time from a batch's first statement to its durable commit.", Buckets: latency})
	m.syncSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "parley_store_sync_duration_seconds",
		Help: "Time the commit itself took: the log write and its fsync.", Buckets: latency})
	m.verdicts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_attachments_total",
		Help: "Attachment verdicts, by verdict."}, []string{"verdict"})
	m.checkSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "parley_attachment_check_duration_seconds",
		Help: "Time to check an attachment (type, image header and scan).", Buckets: latency})
	m.scanSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "parley_attachment_scan_duration_seconds",
		Help: "Time clamd took to scan an attachment.", Buckets: latency})
	m.pruned = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_pruned_total",
		Help: "Records pruned by housekeeping and retention, by kind."}, []string{"kind"})
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.throttled, m.authFailures, m.commits, m.items,
		m.batch, m.commitSeconds, m.syncSeconds, m.verdicts, m.checkSeconds, m.scanSeconds, m.pruned,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	// Known label values start at zero, so that a series exists (and a
	// dashboard or an alert's rate() works) before the first event.
	for _, v := range []string{"APPROVED", "REJECTED"} {
		m.verdicts.WithLabelValues(v)
	}
	for _, k := range PrunedKinds {
		m.pruned.WithLabelValues(k)
	}
	for _, op := range Operations {
		m.throttled.WithLabelValues(op)
	}
	return m
}

// PrunedKinds are the kinds Pruned counts.
var PrunedKinds = []string{"tokens", "idempotency", "ephemeral_items", "files", "chats"}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Gauge registers a gauge read when scraped, for state a component keeps
// anyway (open sockets, subscriptions, queue depth).
func (m *Metrics) Gauge(name, help string, read func() float64) {
	if m != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, read))
	}
}

// Counter registers a counter read when scraped, for a count a component
// keeps anyway.
func (m *Metrics) Counter(name, help string, read func() float64) {
	if m != nil {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, read))
	}
}

func (m *Metrics) request(op string, status int, d time.Duration) {
	if m == nil {
		return
	}
	k := requestSeries{op, status}
	s, ok := m.perRequest.Load(k)
	if !ok {
		s, _ = m.perRequest.LoadOrStore(k, requestMetrics{m.requests.WithLabelValues(op, strconv.Itoa(status)), m.duration.WithLabelValues(op)})
	}
	rm := s.(requestMetrics)
	rm.count.Inc()
	rm.duration.Observe(d.Seconds())
	if status == http.StatusTooManyRequests {
		m.throttled.WithLabelValues(op).Inc()
	}
}

func (m *Metrics) authFailure(op string) {
	if m != nil {
		m.authFailures.WithLabelValues(op).Inc()
	}
}

// Commit records a committed batch: its changes, items, total time and the
// commit's own (log write and fsync) time.
func (m *Metrics) Commit(changes, items int, total, sync time.Duration) {
	if m == nil {
		return
	}
	m.commits.Inc()
	m.items.Add(float64(items))
	m.batch.Observe(float64(changes))
	m.commitSeconds.Observe(total.Seconds())
	m.syncSeconds.Observe(sync.Seconds())
}

// Verdict records an attachment's verdict ("APPROVED" or "REJECTED") and
// how long its checks took.
func (m *Metrics) Verdict(verdict string, check time.Duration) {
	if m == nil {
		return
	}
	m.verdicts.WithLabelValues(verdict).Inc()
	m.checkSeconds.Observe(check.Seconds())
}

// Scan records how long a malware scan took.
func (m *Metrics) Scan(d time.Duration) {
	if m != nil {
		m.scanSeconds.Observe(d.Seconds())
	}
}

// Pruned records n records of a kind (one of PrunedKinds) pruned.
func (m *Metrics) Pruned(kind string, n int) {
	if m != nil && n > 0 {
		m.pruned.WithLabelValues(kind).Add(float64(n))
	}
}

// Value reads a counter's or gauge's value, or a histogram's count, summed
// over the series whose labels include the given name=value pairs; -1 if no
// such metric. For tests and for the bench.
func (m *Metrics) Value(name string, labels ...string) float64 {
	fams, err := m.reg.Gather()
	if err != nil {
		return -1
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		var sum float64
		for _, s := range f.GetMetric() {
			match := true
			for _, l := range s.GetLabel() {
				if v, ok := want[l.GetName()]; ok && v != l.GetValue() {
					match = false
				}
			}
			if !match {
				continue
			}
			switch {
			case s.Counter != nil:
				sum += s.Counter.GetValue()
			case s.Gauge != nil:
				sum += s.Gauge.GetValue()
			case s.Histogram != nil:
				sum += float64(s.Histogram.GetSampleCount())
			}
		}
		return sum
	}
	return -1
}

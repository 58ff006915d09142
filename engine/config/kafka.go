package config

import (
	"net"
	"regexp"
	"time"
)

// Kafka is the transport between capture and dispatch. With no brokers,
// moontide runs in embedded mode: capture and dispatch share one process
// and a bounded in-memory queue, with the same delivery guarantees.
type Kafka struct {
	// Brokers are host:port seed addresses. Empty means embedded mode.
	// A comma-separated string is accepted so one environment variable
	// can carry the whole list.
	Brokers StringList `yaml:"brokers"`
	// TopicPrefix names the per-table topics: <prefix>.<schema>.<table>.
	// The default is moontide.
	TopicPrefix string `yaml:"topic_prefix"`
	// SingleTopic, when set, sends every table's events to this one topic
	// instead of one topic per table. Order per row holds either way,
	// because the row key picks the partition.
	SingleTopic string `yaml:"single_topic"`
	// Partitions for topics moontide creates. The default is 6.
	Partitions int `yaml:"partitions"`
	// ReplicationFactor for topics moontide creates. The default is 1,
	// which suits a single dev broker; use 3 in production.
	ReplicationFactor int `yaml:"replication_factor"`
	// GroupPrefix names consumer groups: <prefix>.<listener>. Each listener
	// is its own group so listeners progress and fail independently. The
	// default is moontide.
	GroupPrefix string `yaml:"group_prefix"`
	// DeadLetterPrefix names dead-letter topics: <prefix>.<listener>. The
	// default is moontide.dlq.
	DeadLetterPrefix string `yaml:"dead_letter_prefix"`
	// BatchSize is the most messages the producer sends in one request.
	// The default is 1000.
	BatchSize int `yaml:"batch_size"`
	// BatchTimeout is how long the producer waits to fill a batch. Keep it
	// small: a synchronous write of a partial batch waits all of it. The
	// default is 10ms.
	BatchTimeout time.Duration `yaml:"batch_timeout"`
}

func defaultKafka() Kafka {
	return Kafka{
		TopicPrefix:       "moontide",
		Partitions:        6,
		ReplicationFactor: 1,
		GroupPrefix:       "moontide",
		DeadLetterPrefix:  "moontide.dlq",
		BatchSize:         1000,
		BatchTimeout:      10 * time.Millisecond,
	}
}

// Embedded reports whether no brokers are configured, so capture and
// dispatch must run joined in one process.
func (k Kafka) Embedded() bool { return len(k.Brokers) == 0 }

// Kafka topic names: at most 249 characters of [a-zA-Z0-9._-].
var topicRe = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,200}$`)

// Validate checks the section on its own.
func (k Kafka) Validate() error {
	var p problems
	for i, b := range k.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			p.add(indexPath("brokers", i), "%q is not host:port", b)
		}
	}
	if !topicRe.MatchString(k.TopicPrefix) {
		p.add("topic_prefix", "%q must be 1 to 200 of a-z A-Z 0-9 . _ -", k.TopicPrefix)
	}
	if k.SingleTopic != "" && !topicRe.MatchString(k.SingleTopic) {
		p.add("single_topic", "%q must be 1 to 200 of a-z A-Z 0-9 . _ -", k.SingleTopic)
	}
	if !topicRe.MatchString(k.DeadLetterPrefix) {
		p.add("dead_letter_prefix", "%q must be 1 to 200 of a-z A-Z 0-9 . _ -", k.DeadLetterPrefix)
	}
	if k.GroupPrefix == "" {
		p.add("group_prefix", "must not be empty")
	}
	if k.Partitions < 1 {
		p.add("partitions", "must be at least 1, not %d", k.Partitions)
	}
	if k.ReplicationFactor < 1 {
		p.add("replication_factor", "must be at least 1, not %d", k.ReplicationFactor)
	}
	if k.BatchSize < 1 {
		p.add("batch_size", "must be at least 1, not %d", k.BatchSize)
	}
	if k.BatchTimeout <= 0 {
		p.add("batch_timeout", "must be positive, not %s", k.BatchTimeout)
	}
	return p.err()
}

package dev.streamscore.jobs;

import dev.streamscore.jobs.config.ScoringConfig;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Connects to Kafka once, with the job's own client settings, before the job is submitted: a wrong
 * password, a missing trust store, a client without TLS against a TLS listener or a missing topic
 * then fails the start with a message that says so, instead of a job that restarts and retries
 * until someone reads its logs.
 *
 * <pre>{@code
 * KafkaConnectionCheck.check(config, Duration.ofSeconds(30));
 * }</pre>
 */
public final class KafkaConnectionCheck {

    /** How long the check waits for the brokers. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

    private KafkaConnectionCheck() {}

    /**
     * Describes every topic of the job through an admin client with the consumer's settings, and
     * with the producer's too where they differ (a producer-only credential, say).
     *
     * @throws KafkaUnavailableException saying what failed: authentication, authorization, a topic
     *     that does not exist, or no answer within {@code timeout} (all checks together)
     */
    public static void check(ScoringConfig config, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Properties consumer = config.kafka().consumer();
        Properties producer = config.kafka().producer();
        boolean sameSettings = producer.equals(consumer);
        check(config, config.topics(), consumer, "consumer", sameSettings, deadline, timeout);
        if (!sameSettings) {
            check(config, config.topics(), producer, "producer", true, deadline, timeout);
        }
    }

    /**
     * As {@link #check(ScoringConfig, Duration)}, for a tool that only reads {@code topics} with
     * the consumer's settings.
     */
    public static void checkReadable(ScoringConfig config, List<String> topics, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        check(config, topics, config.kafka().consumer(), "consumer", false, deadline, timeout);
    }

    private static void check(
            ScoringConfig config,
            List<String> topics,
            Properties settings,
            String client,
            boolean producing,
            long deadline,
            Duration timeout) {
        Properties props = new Properties();
        props.putAll(settings);
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
        long leftMillis = Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
        int millis = (int) Math.min(Integer.MAX_VALUE, leftMillis);
        // Kafka's own timeouts a little shorter than ours, so that its answer (or its timeout,
        // which says the same as ours) is what we report.
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, Math.max(1, millis - 200));
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, Math.max(1, millis - 200));
        String where =
                "Kafka at "
                        + config.bootstrapServers()
                        + " (security.protocol="
                        + props.getProperty("security.protocol", "PLAINTEXT")
                        + ", "
                        + client
                        + " settings)";
        Admin admin = Admin.create(props);
        try {
            var described =
                    admin.describeTopics(topics).allTopicNames().get(millis, TimeUnit.MILLISECONDS);
            if (config.modelControl() && described.containsKey(config.controlTopic())) {
                int partitions = described.get(config.controlTopic()).partitions().size();
                if (partitions != 1) {
                    throw new IllegalArgumentException(
                            "control topic "
                                    + config.controlTopic()
                                    + " has "
                                    + partitions
                                    + " partitions; it must have exactly one, so that every"
                                    + " subtask applies model commands in the order they were"
                                    + " written (kafka-topics --create --topic "
                                    + config.controlTopic()
                                    + " --partitions 1)");
                }
            }
            if (producing && config.delivery() == DeliveryGuarantee.EXACTLY_ONCE) {
                checkTransactionTimeout(admin, config, where, deadline);
            }
        } catch (ExecutionException e) {
            throw failure(where, topics, e.getCause(), timeout);
        } catch (TimeoutException e) {
            throw noAnswer(where, timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while connecting to " + where, e);
        } catch (org.apache.kafka.common.KafkaException e) {
            throw failure(where, topics, e, timeout);
        } finally {
            // Not waiting for calls still pending: the check's time is spent.
            admin.close(Duration.ZERO);
        }
    }

    /**
     * The producers' {@code transaction.timeout.ms} must not exceed the brokers' {@code
     * transaction.max.timeout.ms}, or every transaction of the sinks is refused once the job runs.
     * A client not allowed to read broker configurations skips this check, with a log line.
     */
    private static void checkTransactionTimeout(
            Admin admin, ScoringConfig config, String where, long deadline)
            throws ExecutionException, TimeoutException, InterruptedException {
        long millis = Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
        Collection<Node> nodes = admin.describeCluster().nodes().get(millis, TimeUnit.MILLISECONDS);
        if (nodes.isEmpty()) {
            return;
        }
        ConfigResource broker =
                new ConfigResource(
                        ConfigResource.Type.BROKER, Integer.toString(nodes.iterator().next().id()));
        Config brokerConfig;
        try {
            brokerConfig =
                    admin.describeConfigs(List.of(broker))
                            .all()
                            .get(
                                    Math.max(1, (deadline - System.nanoTime()) / 1_000_000),
                                    TimeUnit.MILLISECONDS)
                            .get(broker);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof AuthorizationException) {
                LOG.info(
                        "Not allowed to read the brokers' transaction.max.timeout.ms on {}: the"
                                + " transaction-timeout of {} is not checked against it",
                        where,
                        config.transactionTimeout());
                return;
            }
            throw e;
        }
        ConfigEntry max = brokerConfig == null ? null : brokerConfig.get(TRANSACTION_MAX_TIMEOUT);
        if (max == null || max.value() == null) {
            return;
        }
        long maxMillis = Long.parseLong(max.value());
        if (config.transactionTimeout().toMillis() > maxMillis) {
            throw new KafkaUnavailableException(
                    "transaction-timeout is "
                            + config.transactionTimeout()
                            + " but the brokers of "
                            + where
                            + " allow at most "
                            + TRANSACTION_MAX_TIMEOUT
                            + "="
                            + maxMillis
                            + " ms: lower transaction-timeout, or raise "
                            + TRANSACTION_MAX_TIMEOUT
                            + " on the brokers");
        }
    }

    private static final String TRANSACTION_MAX_TIMEOUT = "transaction.max.timeout.ms";

    private static final Logger LOG = LoggerFactory.getLogger(KafkaConnectionCheck.class);

    private static IllegalStateException noAnswer(String where, Duration timeout) {
        return new KafkaUnavailableException(
                "no answer from "
                        + where
                        + " within "
                        + timeout.toSeconds()
                        + " s: check the address and that the client's security.protocol"
                        + " matches the listener (a client without TLS gets no answer from a"
                        + " TLS listener)");
    }

    private static IllegalStateException failure(
            String where, List<String> topics, Throwable cause, Duration timeout) {
        if (cause instanceof org.apache.kafka.common.errors.TimeoutException) {
            return noAnswer(where, timeout);
        }
        if (cause instanceof UnknownTopicOrPartitionException) {
            return new KafkaUnavailableException(
                    "the job needs topics "
                            + topics
                            + " on "
                            + where
                            + ", but not all exist: create them first ("
                            + cause.getMessage()
                            + ")",
                    cause);
        }
        Throwable root = cause;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String what =
                cause instanceof AuthenticationException
                        ? "authentication failed"
                        : cause instanceof AuthorizationException
                                ? "not authorized to describe the job's topics"
                                : "cannot connect";
        return new KafkaUnavailableException(
                what
                        + " on "
                        + where
                        + ": "
                        + root.getClass().getSimpleName()
                        + ": "
                        + root.getMessage(),
                cause);
    }

    /** Kafka cannot be used with the job's settings; the message says why and what to check. */
    public static final class KafkaUnavailableException extends IllegalStateException {
        private static final long serialVersionUID = 1L;

        KafkaUnavailableException(String message) {
            super(message);
        }

        KafkaUnavailableException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}

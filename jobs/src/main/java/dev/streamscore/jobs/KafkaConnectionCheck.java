package dev.streamscore.jobs;

import dev.streamscore.jobs.config.ScoringConfig;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

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
     * Describes the job's three topics through an admin client with the consumer's settings.
     *
     * @throws IllegalStateException saying what failed: authentication, authorization, a topic that
     *     does not exist, or no answer within {@code timeout}
     */
    public static void check(ScoringConfig config, Duration timeout) {
        Properties props = config.kafka().consumer();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
        int millis = (int) Math.min(Integer.MAX_VALUE, timeout.toMillis());
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, millis);
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, millis);
        List<String> topics =
                List.of(config.transactionsTopic(), config.scoresTopic(), config.deadLetterTopic());
        String where =
                "Kafka at "
                        + config.bootstrapServers()
                        + " (security.protocol="
                        + props.getProperty("security.protocol", "PLAINTEXT")
                        + ")";
        try (Admin admin = Admin.create(props)) {
            Set<String> missing = new TreeSet<>(topics);
            missing.removeAll(admin.listTopics().names().get(millis, TimeUnit.MILLISECONDS));
            if (!missing.isEmpty()) {
                throw new IllegalStateException(
                        "the job needs topics "
                                + topics
                                + " on "
                                + where
                                + ", but "
                                + missing
                                + " do not exist: create them first");
            }
            admin.describeTopics(topics).allTopicNames().get(millis, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw failure(where, e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException(
                    "no answer from "
                            + where
                            + " within "
                            + timeout.toSeconds()
                            + " s: check the address and that the client's security.protocol"
                            + " matches the listener (a client without TLS gets no answer from a"
                            + " TLS listener)");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while connecting to " + where, e);
        } catch (org.apache.kafka.common.KafkaException e) {
            throw failure(where, e);
        }
    }

    private static IllegalStateException failure(String where, Throwable cause) {
        Throwable root = cause;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String what;
        if (cause instanceof AuthenticationException) {
            what = "authentication failed";
        } else if (cause instanceof AuthorizationException) {
            what = "not authorized";
        } else if (cause instanceof UnknownTopicOrPartitionException) {
            what = "a topic does not exist";
        } else {
            what = "cannot connect";
        }
        return new IllegalStateException(
                what
                        + " on "
                        + where
                        + ": "
                        + root.getClass().getSimpleName()
                        + ": "
                        + root.getMessage(),
                cause);
    }
}

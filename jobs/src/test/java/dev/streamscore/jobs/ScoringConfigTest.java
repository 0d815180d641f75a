package dev.streamscore.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamscore.jobs.config.ScoringConfig;
import org.junit.jupiter.api.Test;

class ScoringConfigTest {

    private static ScoringConfig config(String... args) throws Exception {
        return ScoringConfig.from(JobArguments.parse(args));
    }

    @Test
    void theDefaultTransactionalIdPrefixIsStablePerApplicationAndDiffersBetweenApplications()
            throws Exception {
        String defaults = config().transactionalIdPrefix();
        assertThat(defaults).matches("streamscore-streamscore-[0-9a-f]{8}");
        assertThat(config().transactionalIdPrefix()).isEqualTo(defaults);
        assertThat(config("--scores-topic", "other-scores").transactionalIdPrefix())
                .isNotEqualTo(defaults);
        assertThat(config("--transactions-topic", "eu-transactions").transactionalIdPrefix())
                .isNotEqualTo(defaults);
        assertThat(config("--group-id", "team-b").transactionalIdPrefix())
                .startsWith("streamscore-team-b-");
        assertThat(config("--bootstrap-servers", "kafka-2:9092").transactionalIdPrefix())
                .isNotEqualTo(defaults);
        assertThat(config("--transactional-id-prefix", "mine").transactionalIdPrefix())
                .isEqualTo("mine");
    }

    @Test
    void exactlyOnceRefusesATransactionTimeoutThatACheckpointCanOutlast() {
        assertThatThrownBy(
                        () ->
                                config(
                                        "--delivery", "exactly-once",
                                        "--checkpoint-interval", "30 s",
                                        "--checkpoint-timeout", "5 min",
                                        "--transaction-timeout", "5 min"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(
                        "transaction-timeout must be above checkpoint-interval plus"
                                + " checkpoint-timeout for exactly-once, or Kafka may abort a"
                                + " transaction before its checkpoint commits it; got PT5M with"
                                + " checkpoint-interval PT30S and checkpoint-timeout PT5M");
        // At-least-once has no transactions to time out.
        assertThat(
                        org.assertj.core.api.Assertions.catchThrowable(
                                () ->
                                        config(
                                                "--checkpoint-timeout", "5 min",
                                                "--transaction-timeout", "5 min")))
                .isNull();
    }

    @Test
    void restartsAreBoundedByDefault() throws Exception {
        ScoringConfig defaults = config();
        assertThat(defaults.maxFailures()).isEqualTo(3);
        assertThat(defaults.failureInterval()).hasMinutes(10);
        assertThatThrownBy(() -> config("--max-failures", "-1"))
                .hasMessage("max-failures must be zero (never restart) or positive, got -1");
    }
}

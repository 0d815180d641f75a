package dev.streamscore.operators.batching;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Map;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.util.InstantiationUtil;
import org.junit.jupiter.api.Test;

class BatchingSettingsTest {

    private static final BatchingSettings DEFAULTS = BatchingSettings.DEFAULTS;

    @Test
    void defaultsAreBatchesOf256Within10msTwoInFlightAndATenMinuteCache() {
        assertThat(DEFAULTS.maxBatchSize()).isEqualTo(256);
        assertThat(DEFAULTS.maxWait()).isEqualTo(Duration.ofMillis(10));
        assertThat(DEFAULTS.maxInFlight()).isEqualTo(2);
        assertThat(DEFAULTS.cacheTtl()).isEqualTo(Duration.ofMinutes(10));
        assertThat(DEFAULTS.cacheEnabled()).isTrue();
    }

    @Test
    void defaultsForFailuresOutputAndAdaptiveBatching() {
        assertThat(DEFAULTS.modelCallTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(DEFAULTS.maxRetries()).isEqualTo(2);
        assertThat(DEFAULTS.initialBackoff()).isEqualTo(Duration.ofMillis(10));
        assertThat(DEFAULTS.outputMode()).isEqualTo(OutputMode.UNORDERED);
        assertThat(DEFAULTS.latencyTarget()).isZero();
        assertThat(DEFAULTS.adaptiveBatching()).isFalse();
    }

    @Test
    void theDefaultsAreTheOptionsDefaults() {
        assertThat(DEFAULTS.maxBatchSize()).isEqualTo(BatchingOptions.BATCH_SIZE.defaultValue());
        assertThat(DEFAULTS.maxWait()).isEqualTo(BatchingOptions.MAX_WAIT.defaultValue());
        assertThat(DEFAULTS.maxInFlight()).isEqualTo(BatchingOptions.MAX_IN_FLIGHT.defaultValue());
        assertThat(DEFAULTS.cacheTtl()).isEqualTo(BatchingOptions.CACHE_TTL.defaultValue());
        assertThat(DEFAULTS.modelCallTimeout())
                .isEqualTo(BatchingOptions.MODEL_CALL_TIMEOUT.defaultValue());
        assertThat(DEFAULTS.maxRetries()).isEqualTo(BatchingOptions.MAX_RETRIES.defaultValue());
        assertThat(DEFAULTS.initialBackoff())
                .isEqualTo(BatchingOptions.RETRY_BACKOFF.defaultValue());
        assertThat(DEFAULTS.outputMode()).isEqualTo(BatchingOptions.OUTPUT_MODE.defaultValue());
        assertThat(DEFAULTS.latencyTarget())
                .isEqualTo(BatchingOptions.LATENCY_TARGET.defaultValue());
    }

    @Test
    void readsEachOptionFromAConfiguration() {
        BatchingSettings read =
                BatchingSettings.from(
                        Configuration.fromMap(
                                Map.of(
                                        "batch-size", "64",
                                        "max-wait", "3 ms",
                                        "max-in-flight", "4",
                                        "cache-ttl", "0 ms",
                                        "model-call-timeout", "1 s",
                                        "max-retries", "0",
                                        "retry-backoff", "0 ms",
                                        "output-mode", "ordered",
                                        "latency-target", "5 ms")));
        assertThat(read)
                .isEqualTo(
                        new BatchingSettings(
                                64,
                                Duration.ofMillis(3),
                                4,
                                Duration.ZERO,
                                Duration.ofSeconds(1),
                                0,
                                Duration.ZERO,
                                OutputMode.ORDERED,
                                Duration.ofMillis(5)));
    }

    @Test
    void eachBuilderSetterChangesOnlyItsOwnSetting() {
        BatchingSettings changed =
                DEFAULTS.toBuilder()
                        .modelCallTimeout(Duration.ofSeconds(1))
                        .maxRetries(0)
                        .initialBackoff(Duration.ZERO)
                        .outputMode(OutputMode.ORDERED)
                        .latencyTarget(Duration.ofMillis(5))
                        .build();

        assertThat(changed)
                .isEqualTo(
                        new BatchingSettings(
                                256,
                                Duration.ofMillis(10),
                                2,
                                Duration.ofMinutes(10),
                                Duration.ofSeconds(1),
                                0,
                                Duration.ZERO,
                                OutputMode.ORDERED,
                                Duration.ofMillis(5)));
        assertThat(changed.adaptiveBatching()).isTrue();
        assertThat(
                        DEFAULTS.toBuilder()
                                .maxBatchSize(8)
                                .maxWait(Duration.ofMillis(2))
                                .maxInFlight(3)
                                .cacheTtl(Duration.ofSeconds(1))
                                .build())
                .isEqualTo(
                        new BatchingSettings(
                                8,
                                Duration.ofMillis(2),
                                3,
                                Duration.ofSeconds(1),
                                Duration.ofSeconds(5),
                                2,
                                Duration.ofMillis(10),
                                OutputMode.UNORDERED,
                                Duration.ZERO));
    }

    @Test
    void aZeroTtlDisablesTheCache() {
        assertThat(DEFAULTS.toBuilder().cacheTtl(Duration.ZERO).build().cacheEnabled()).isFalse();
    }

    @Test
    void rejectsEachInvalidSettingSayingWhatWasFound() {
        assertThatThrownBy(() -> DEFAULTS.toBuilder().maxBatchSize(0).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("max batch size must be between 1 and 65536 rows, found 0");
        assertThatThrownBy(() -> DEFAULTS.toBuilder().maxBatchSize(65_537).build())
                .hasMessage("max batch size must be between 1 and 65536 rows, found 65537");
        assertThatThrownBy(() -> DEFAULTS.toBuilder().maxWait(Duration.ofNanos(999_999)).build())
                .hasMessageStartingWith("max wait must be at least 1 ms")
                .hasMessageEndingWith("found PT0.000999999S");
        assertThatThrownBy(() -> DEFAULTS.toBuilder().maxWait(null).build())
                .hasMessageEndingWith("found null");
        assertThatThrownBy(() -> DEFAULTS.toBuilder().maxInFlight(0).build())
                .hasMessage("max in-flight batches must be at least 1, found 0");
        assertThatThrownBy(() -> DEFAULTS.toBuilder().cacheTtl(Duration.ofSeconds(-1)).build())
                .hasMessage(
                        "cache TTL must be zero (cache disabled) or at least 1 ms, found PT-1S");
        assertThatThrownBy(() -> DEFAULTS.toBuilder().modelCallTimeout(Duration.ZERO).build())
                .hasMessage("model call timeout must be at least 1 ms, found PT0S");
        assertThatThrownBy(() -> DEFAULTS.toBuilder().maxRetries(-1).build())
                .hasMessage("max retries must be between 0 and 10, found -1");
        assertThatThrownBy(() -> DEFAULTS.toBuilder().maxRetries(11).build())
                .hasMessage("max retries must be between 0 and 10, found 11");
        assertThatThrownBy(() -> DEFAULTS.toBuilder().initialBackoff(Duration.ofNanos(1)).build())
                .hasMessageStartingWith("initial backoff must be zero or at least 1 ms")
                .hasMessageEndingWith("found PT0.000000001S");
        assertThatThrownBy(() -> DEFAULTS.toBuilder().outputMode(null).build())
                .hasMessage("output mode must be set, found none");
        assertThatThrownBy(() -> DEFAULTS.toBuilder().latencyTarget(Duration.ofMillis(-1)).build())
                .hasMessage(
                        "latency target must be zero (adaptive batching off) or positive, found"
                                + " PT-0.001S");
    }

    @Test
    void survivesJavaSerializationAsPartOfTheJobGraph() throws Exception {
        assertThat(InstantiationUtil.clone(DEFAULTS)).isEqualTo(DEFAULTS);
    }
}

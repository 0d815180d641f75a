package dev.streamscore.operators.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamscore.models.OnnxOptions;
import java.time.Duration;
import org.apache.flink.util.InstantiationUtil;
import org.junit.jupiter.api.Test;

class InferenceSettingsTest {

    private static final InferenceSettings DEFAULTS = InferenceSettings.defaults("bundled:gbdt");

    @Test
    void defaultsAreBatchesOf256Within10msTwoInFlightAndATenMinuteCache() {
        assertThat(DEFAULTS)
                .isEqualTo(
                        new InferenceSettings(
                                "bundled:gbdt",
                                OnnxOptions.DEFAULT,
                                256,
                                Duration.ofMillis(10),
                                2,
                                Duration.ofMinutes(10)));
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
        assertThat(DEFAULTS.fallbackScore()).isNull();
    }

    @Test
    void eachWithChangesOnlyItsOwnSetting() {
        InferenceSettings changed =
                DEFAULTS.withModelCallTimeout(Duration.ofSeconds(1))
                        .withMaxRetries(0)
                        .withInitialBackoff(Duration.ZERO)
                        .withOutputMode(OutputMode.ORDERED)
                        .withLatencyTarget(Duration.ofMillis(5))
                        .withFallbackScore(0.5);

        assertThat(changed)
                .isEqualTo(
                        new InferenceSettings(
                                "bundled:gbdt",
                                OnnxOptions.DEFAULT,
                                256,
                                Duration.ofMillis(10),
                                2,
                                Duration.ofMinutes(10),
                                Duration.ofSeconds(1),
                                0,
                                Duration.ZERO,
                                OutputMode.ORDERED,
                                Duration.ofMillis(5),
                                0.5));
        assertThat(changed.adaptiveBatching()).isTrue();
        assertThat(changed.withFallbackScore(null).fallbackScore()).isNull();
    }

    @Test
    void aZeroTtlDisablesTheCache() {
        assertThat(DEFAULTS.withCacheTtl(Duration.ZERO).cacheEnabled()).isFalse();
    }

    @Test
    void rejectsEachInvalidSettingSayingWhatWasFound() {
        assertThatThrownBy(() -> InferenceSettings.defaults(" "))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("model location must be 'bundled:<id>' or a folder, found ' '");
        assertThatThrownBy(() -> InferenceSettings.defaults(null))
                .hasMessage("model location must be 'bundled:<id>' or a folder, found none");
        assertThatThrownBy(() -> DEFAULTS.withOnnx(null))
                .hasMessage("ONNX options must be set, found none");
        assertThatThrownBy(() -> DEFAULTS.withMaxBatchSize(0))
                .hasMessage("max batch size must be between 1 and 65536 rows, found 0");
        assertThatThrownBy(() -> DEFAULTS.withMaxBatchSize(65_537))
                .hasMessage("max batch size must be between 1 and 65536 rows, found 65537");
        assertThatThrownBy(() -> DEFAULTS.withMaxWait(Duration.ofNanos(999_999)))
                .hasMessageStartingWith("max wait must be at least 1 ms")
                .hasMessageEndingWith("found PT0.000999999S");
        assertThatThrownBy(() -> DEFAULTS.withMaxWait(null)).hasMessageEndingWith("found null");
        assertThatThrownBy(() -> DEFAULTS.withMaxInFlight(0))
                .hasMessage("max in-flight batches must be at least 1, found 0");
        assertThatThrownBy(() -> DEFAULTS.withCacheTtl(Duration.ofSeconds(-1)))
                .hasMessage(
                        "cache TTL must be zero (cache disabled) or at least 1 ms, found PT-1S");
        assertThatThrownBy(() -> DEFAULTS.withModelCallTimeout(Duration.ZERO))
                .hasMessage("model call timeout must be at least 1 ms, found PT0S");
        assertThatThrownBy(() -> DEFAULTS.withMaxRetries(-1))
                .hasMessage("max retries must be between 0 and 10, found -1");
        assertThatThrownBy(() -> DEFAULTS.withMaxRetries(11))
                .hasMessage("max retries must be between 0 and 10, found 11");
        assertThatThrownBy(() -> DEFAULTS.withInitialBackoff(Duration.ofNanos(1)))
                .hasMessageStartingWith("initial backoff must be zero or at least 1 ms")
                .hasMessageEndingWith("found PT0.000000001S");
        assertThatThrownBy(() -> DEFAULTS.withOutputMode(null))
                .hasMessage("output mode must be set, found none");
        assertThatThrownBy(() -> DEFAULTS.withLatencyTarget(Duration.ofMillis(-1)))
                .hasMessage(
                        "latency target must be zero (adaptive batching off) or positive, found"
                                + " PT-0.001S");
        assertThatThrownBy(() -> DEFAULTS.withFallbackScore(1.5))
                .hasMessage(
                        "fallback score must be a probability between 0 and 1, or none, found"
                                + " 1.5");
        assertThatThrownBy(() -> DEFAULTS.withFallbackScore(Double.NaN))
                .hasMessageEndingWith("found NaN");
    }

    @Test
    void survivesJavaSerializationAsPartOfTheJobGraph() throws Exception {
        assertThat(InstantiationUtil.clone(DEFAULTS)).isEqualTo(DEFAULTS);
        InferenceSettings withFallback = DEFAULTS.withFallbackScore(0.7);
        assertThat(InstantiationUtil.clone(withFallback)).isEqualTo(withFallback);
    }
}

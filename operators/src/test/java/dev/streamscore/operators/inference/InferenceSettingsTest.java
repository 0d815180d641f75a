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
    }

    @Test
    void survivesJavaSerializationAsPartOfTheJobGraph() throws Exception {
        assertThat(InstantiationUtil.clone(DEFAULTS)).isEqualTo(DEFAULTS);
    }
}

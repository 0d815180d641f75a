package dev.streamscore.operators.inference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamscore.models.ExecutionProvider;
import dev.streamscore.models.OnnxOptions;
import dev.streamscore.operators.batching.BatchingSettings;
import java.util.List;
import java.util.Map;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.util.InstantiationUtil;
import org.junit.jupiter.api.Test;

class InferenceSettingsTest {

    private static final InferenceSettings DEFAULTS = InferenceSettings.defaults("bundled:gbdt");

    @Test
    void defaultsAreTheBundledGbdtOnTheCpuWithDefaultBatchingAndNoFallback() {
        assertThat(DEFAULTS)
                .isEqualTo(
                        new InferenceSettings(
                                "bundled:gbdt",
                                OnnxOptions.DEFAULT,
                                BatchingSettings.DEFAULTS,
                                null,
                                3));
        assertThat(InferenceSettings.from(new Configuration())).isEqualTo(DEFAULTS);
        assertThat(InferenceOptions.MODEL.defaultValue()).isEqualTo("bundled:gbdt");
    }

    @Test
    void readsTheModelOnnxRuntimeAndFallbackOptionsFromAConfiguration() {
        InferenceSettings read =
                InferenceSettings.from(
                        Configuration.fromMap(
                                Map.of(
                                        "model", "bundled:mlp",
                                        "intra-op-threads", "2",
                                        "inter-op-threads", "3",
                                        "execution-provider", "auto",
                                        "gpu-device", "1",
                                        "pad-to-sizes", "8;64",
                                        "fallback-score", "0.25",
                                        "reasons", "5",
                                        "batch-size", "32")));
        assertThat(read.modelLocation()).isEqualTo("bundled:mlp");
        assertThat(read.onnx())
                .isEqualTo(
                        OnnxOptions.DEFAULT
                                .withThreads(2, 3)
                                .withExecutionProvider(ExecutionProvider.AUTO, 1)
                                .withPadToSizes(List.of(8, 64)));
        assertThat(read.fallbackScore()).isEqualTo(0.25);
        assertThat(read.reasons()).isEqualTo(5);
        assertThat(read.batching().maxBatchSize()).isEqualTo(32);
    }

    @Test
    void eachWithChangesOnlyItsOwnSetting() {
        InferenceSettings changed =
                DEFAULTS.withBatching(b -> b.maxRetries(0)).withFallbackScore(0.5);

        assertThat(changed)
                .isEqualTo(
                        new InferenceSettings(
                                "bundled:gbdt",
                                OnnxOptions.DEFAULT,
                                BatchingSettings.DEFAULTS.toBuilder().maxRetries(0).build(),
                                0.5,
                                3));
        assertThat(DEFAULTS.withReasons(0).reasons()).isZero();
        assertThat(changed.withFallbackScore(null).fallbackScore()).isNull();
        assertThat(DEFAULTS.withOnnx(OnnxOptions.DEFAULT.withThreads(2, 1)).onnx().intraOpThreads())
                .isEqualTo(2);
    }

    @Test
    void rejectsEachInvalidSettingSayingWhatWasFound() {
        assertThatThrownBy(() -> DEFAULTS.withReasons(11))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("reasons per flagged score must be within 0..10, found 11");
        assertThatThrownBy(() -> DEFAULTS.withReasons(-1))
                .hasMessage("reasons per flagged score must be within 0..10, found -1");
        assertThatThrownBy(() -> InferenceSettings.defaults(" "))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("model location must be 'bundled:<id>' or a folder, found ' '");
        assertThatThrownBy(() -> InferenceSettings.defaults(null))
                .hasMessage("model location must be 'bundled:<id>' or a folder, found none");
        assertThatThrownBy(() -> DEFAULTS.withOnnx(null))
                .hasMessage("ONNX options must be set, found none");
        assertThatThrownBy(() -> DEFAULTS.withBatching((BatchingSettings) null))
                .hasMessage("batching settings must be set, found none");
        assertThatThrownBy(() -> DEFAULTS.withBatching(b -> b.maxBatchSize(0)))
                .hasMessage("max batch size must be between 1 and 65536 rows, found 0");
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

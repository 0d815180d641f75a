package dev.streamscore.models;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.List;
import org.junit.jupiter.api.Test;

class OnnxOptionsTest {

    @Test
    void defaultsAreOneThreadOnTheCpuWithoutPaddingAndWithoutPerCallStderrLines() {
        OnnxOptions d = OnnxOptions.DEFAULT;
        assertThat(d.intraOpThreads()).isEqualTo(1);
        assertThat(d.interOpThreads()).isEqualTo(1);
        assertThat(d.executionProvider()).isEqualTo(ExecutionProvider.CPU);
        assertThat(d.deviceId()).isZero();
        assertThat(d.padToSizes()).isEmpty();
        assertThat(d.sessionLogLevel()).isEqualTo(OnnxOptions.LogLevel.WARNING);
        assertThat(d.runLogLevel()).isEqualTo(OnnxOptions.LogLevel.FATAL);
        assertThat(new OnnxOptions(4, 2)).isEqualTo(d.withThreads(4, 2));
    }

    @Test
    void optionsSurviveJavaSerializationAsOperatorSettingsDo() throws Exception {
        OnnxOptions options =
                OnnxOptions.DEFAULT
                        .withExecutionProvider(ExecutionProvider.TENSORRT, 1)
                        .withPadToSizes(1, 8, 256)
                        .withLogLevels(OnnxOptions.LogLevel.ERROR, OnnxOptions.LogLevel.ERROR);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(options);
        }
        try (ObjectInputStream in =
                new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            assertThat(in.readObject()).isEqualTo(options);
        }
    }

    @Test
    void paddedRowsIsTheNextListedSizeOrAWholeNumberOfTheLargest() {
        OnnxOptions options = OnnxOptions.DEFAULT.withPadToSizes(1, 8, 32, 128, 256);
        assertThat(options.paddedRows(1)).isEqualTo(1);
        assertThat(options.paddedRows(2)).isEqualTo(8);
        assertThat(options.paddedRows(128)).isEqualTo(128);
        assertThat(options.paddedRows(129)).isEqualTo(256);
        assertThat(options.paddedRows(257)).isEqualTo(512);
        assertThat(OnnxOptions.DEFAULT.paddedRows(77)).isEqualTo(77);
        assertThat(options.withPadToSizes(List.of()).paddedRows(77)).isEqualTo(77);
    }

    @Test
    void padToSizesMustBePositiveAndStrictlyIncreasing() {
        assertThatThrownBy(() -> OnnxOptions.DEFAULT.withPadToSizes(8, 1))
                .hasMessage("pad-to sizes must be positive and strictly increasing, found [8, 1]");
        assertThatThrownBy(() -> OnnxOptions.DEFAULT.withPadToSizes(0, 8))
                .hasMessageContaining("found [0, 8]");
        assertThatThrownBy(() -> OnnxOptions.DEFAULT.withPadToSizes(8, 8))
                .hasMessageContaining("found [8, 8]");
    }

    @Test
    void aNegativeDeviceOrAMissingProviderIsRejected() {
        assertThatThrownBy(
                        () -> OnnxOptions.DEFAULT.withExecutionProvider(ExecutionProvider.CUDA, -1))
                .hasMessage("GPU device id must be 0 or more, got -1");
        assertThatThrownBy(() -> OnnxOptions.DEFAULT.withExecutionProvider(null, 0))
                .hasMessageContaining("cpu, cuda, tensorrt, auto, found none");
    }
}

package dev.streamscore.tools.model.compress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import dev.streamscore.models.onnx.OnnxProtos;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link Fp16Converter} halves every float of the mlp and keeps its float32 interface.
 *
 * <p>ONNX Runtime 1.28's CPU provider does run the result, but in float32: having no float16
 * kernels for these operators on x86, it casts the float16 weights back to float32 when it loads
 * the model. So on the CPU only the weights' rounding shows: largest difference from the parity
 * sample 1.6e-3 measured, bound 3e-3. On a GPU provider, with float16 arithmetic, it may differ
 * more.
 */
class Fp16ConverterTest {

    private static final ModelProto MLP = Fixtures.model("mlp");

    @Test
    void everyInitializerBecomesTheNearestHalfAndCastsKeepTheFloatInterface() {
        ModelProto half = Fp16Converter.convert(MLP).model();
        GraphProto g = half.getGraph();
        assertThat(g.getInitializerList())
                .hasSize(MLP.getGraph().getInitializerCount())
                .allSatisfy(
                        t ->
                                assertThat(t.getDataType())
                                        .isEqualTo(TensorProto.DataType.FLOAT16_VALUE));
        for (TensorProto original : MLP.getGraph().getInitializerList()) {
            TensorProto converted =
                    g.getInitializerList().stream()
                            .filter(t -> t.getName().equals(original.getName()))
                            .findFirst()
                            .orElseThrow();
            assertThat(converted.getDimsList()).isEqualTo(original.getDimsList());
            float[] values = OnnxProtos.floats(original);
            ByteBuffer raw =
                    converted.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            for (float v : values) {
                assertThat(raw.getShort()).isEqualTo(HalfFloat.fromFloat(v));
            }
        }
        assertThat(g.getInputList()).isEqualTo(MLP.getGraph().getInputList());
        assertThat(g.getOutputList()).isEqualTo(MLP.getGraph().getOutputList());
        NodeProto first = g.getNode(0);
        NodeProto last = g.getNode(g.getNodeCount() - 1);
        assertThat(first.getOpType()).isEqualTo("Cast");
        assertThat(first.getInputList()).containsExactly("features");
        assertThat(OnnxProtos.intAttribute(first, "to", -1))
                .isEqualTo(TensorProto.DataType.FLOAT16_VALUE);
        assertThat(last.getOpType()).isEqualTo("Cast");
        assertThat(last.getOutputList()).containsExactly("probability");
        assertThat(OnnxProtos.intAttribute(last, "to", -1))
                .isEqualTo(TensorProto.DataType.FLOAT_VALUE);
        // No node but the first reads the float input, and none but the last writes the output.
        assertThat(g.getNodeList().subList(1, g.getNodeCount()))
                .noneMatch(n -> n.getInputList().contains("features"));
        assertThat(g.getNodeList().subList(0, g.getNodeCount() - 1))
                .noneMatch(n -> n.getOutputList().contains("probability"));
    }

    @Test
    void onnxRuntimesCpuProviderRunsItWithinTheWeightsRounding() throws Exception {
        Fixtures.ParitySample sample = Fixtures.paritySample("mlp");
        float[] scores =
                Fixtures.score(
                        Fixtures.artifact("mlp", "fp16", Fp16Converter.convert(MLP).model()),
                        sample.rows());
        double diff = Fixtures.maxAbsDiff(scores, sample.expected());
        System.out.printf("Fp16ConverterTest: mlp fp16 on the CPU, max |diff| %.4g%n", diff);
        assertThat(diff).isLessThan(3e-3).isGreaterThan(1e-5);
    }

    @Test
    void countsValuesThatHalvingLoses() {
        Fp16Converter.Result r = Fp16Converter.convert(MLP);
        long all =
                MLP.getGraph().getInitializerList().stream()
                        .mapToLong(OnnxProtos::elementCount)
                        .sum();
        assertThat(r.converted()).isEqualTo(all);
        long zeroed = 0;
        for (TensorProto t : MLP.getGraph().getInitializerList()) {
            for (float v : OnnxProtos.floats(t)) {
                zeroed += v != 0 && Math.abs(v) <= 0x1p-25f ? 1 : 0;
            }
        }
        assertThat(r.flushedToZero()).isEqualTo(zeroed);
        assertThat(r.overflowed()).isZero();
    }

    @Test
    void refusesATreeEnsembleAndAnOperatorItDoesNotKnow() {
        assertThatThrownBy(() -> Fp16Converter.convert(Fixtures.model("gbdt")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(
                        "fp16 does not apply to this model: its TreeEnsembleRegressor (ai.onnx.ml)"
                                + " takes float or double input only");
        GraphProto.Builder g = MLP.getGraph().toBuilder();
        for (int i = 0; i < g.getNodeCount(); i++) {
            if (g.getNode(i).getOpType().equals("Relu")) {
                g.setNode(i, g.getNode(i).toBuilder().setOpType("Elu"));
            }
        }
        ModelProto withElu = MLP.toBuilder().setGraph(g).build();
        assertThatThrownBy(() -> Fp16Converter.convert(withElu))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageEndingWith("; this one also has [Elu]");
        assertThat(List.copyOf(Fp16Converter.OPERATORS)).doesNotContain("Elu");
    }
}

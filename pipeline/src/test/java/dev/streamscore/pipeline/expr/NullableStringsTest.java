package dev.streamscore.pipeline.expr;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A nullable string variable (an Avro union of null and string) on the fast path: compared with
 * null it has a value, used as a string while null it has none, exactly as CEL's interpreter says.
 */
class NullableStringsTest {

    static final List<String> EXPRESSIONS =
            List.of(
                    "device == null",
                    "device != null",
                    "null == device",
                    "device == null || size(device) <= 3",
                    "device != null && size(device) > 3",
                    "device == \"abc\"",
                    "device == other",
                    "size(device)",
                    "device + \"x\"",
                    "device.startsWith(\"a\")",
                    "device.matches(\"^a\")",
                    "device in [\"abc\", \"x\"]",
                    "device == null ? 0 : size(device)");

    @Test
    void theFastPathAgreesWithCelsInterpreterWithAndWithoutAValue() {
        Variables variables = new Variables();
        Variables.Variable device = variables.add("device", ValueType.STRING, true);
        Variables.Variable other = variables.add("other", ValueType.STRING, false);
        Expressions expressions = new Expressions(variables);
        Vars vars = new Vars(variables);
        for (String source : EXPRESSIONS) {
            Expr fast = expressions.compile(source);
            Expr interpreted = expressions.compileInterpreted(source);
            assertThat(fast.fast()).as(source).isTrue();
            for (String value : Arrays.asList(null, "abc", "abcdef", "x", "")) {
                device.set(vars, value);
                other.set(vars, "abc");
                Object expected;
                try {
                    expected = interpreted.eval(vars);
                } catch (EvalException e) {
                    assertThatThrownBy(() -> fast.eval(vars))
                            .as("%s with %s", source, value)
                            .isInstanceOf(EvalException.class);
                    continue;
                }
                assertThat(fast.eval(vars)).as("%s with %s", source, value).isEqualTo(expected);
            }
        }
    }
}

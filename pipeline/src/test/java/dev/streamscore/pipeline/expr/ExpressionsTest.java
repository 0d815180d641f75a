package dev.streamscore.pipeline.expr;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.Tuple;
import org.junit.jupiter.api.Test;

/**
 * The fast path of {@link Expressions} against CEL's own interpreter: for every expression below,
 * on random values of its variables (edges of every range over-represented), both give the same
 * value (doubles bit for bit, or both NaN) or both throw {@link EvalException}; never another
 * exception. The expressions cover each construct the fast path translates, with the places where a
 * naive translation goes wrong: int overflow, division and modulo by zero, int() of a double out of
 * range or NaN, logic over an erroring side, NaN and -0.0 in comparisons, strings with surrogate
 * pairs and line ends, and regular expressions where Java's and RE2's differ.
 */
class ExpressionsTest {

    /** i, j: int; x, y: double; s, t: string; b, c: bool. */
    static final Variables VARIABLES = new Variables();

    static final Variables.Variable I = VARIABLES.add("i", ValueType.INT, false);
    static final Variables.Variable J = VARIABLES.add("j", ValueType.INT, false);
    static final Variables.Variable X = VARIABLES.add("x", ValueType.DOUBLE, false);
    static final Variables.Variable Y = VARIABLES.add("y", ValueType.DOUBLE, false);
    static final Variables.Variable S = VARIABLES.add("s", ValueType.STRING, false);
    static final Variables.Variable T = VARIABLES.add("t", ValueType.STRING, false);
    static final Variables.Variable B = VARIABLES.add("b", ValueType.BOOL, false);
    static final Variables.Variable C = VARIABLES.add("c", ValueType.BOOL, false);

    /** Expressions meant to run on the fast path. */
    static final List<String> FAST =
            List.of(
                    // int arithmetic, with its overflows and zero divisors
                    "i + j",
                    "i - j",
                    "i * j",
                    "-i",
                    "i / j",
                    "i % j",
                    "i + 1",
                    "i - 1",
                    "9223372036854775807 + i",
                    "-9223372036854775808 - i",
                    "-9223372036854775808 / j",
                    "-9223372036854775808 % j",
                    "i * 3037000500",
                    "-(-9223372036854775807 - 1 + i)",
                    "abs(i)",
                    "min(i, j)",
                    "max(i, j)",
                    "int(x)",
                    "int(x * 1e18)",
                    "int(-9.223372036854775808e18)",
                    "int(9.223372036854775807e18 - x)",
                    "int(double(i))",
                    "size(s)",
                    "s.size()",
                    "size(s) + i",
                    "b ? i : j",
                    "i > 0 ? i / j : -j",
                    "j == 0 ? 0 : i / j",
                    // double arithmetic and the pipeline's functions
                    "x + y",
                    "x - y",
                    "x * y",
                    "x / y",
                    "-x",
                    "double(i)",
                    "double(i) / 100.0",
                    "double(i) + x",
                    "double(i) * double(j)",
                    "log1p(x)",
                    "log(x)",
                    "exp(x)",
                    "sqrt(x)",
                    "abs(x)",
                    "sin(x)",
                    "cos(x)",
                    "log1p(i)",
                    "log(i)",
                    "exp(i)",
                    "sqrt(i)",
                    "sin(i)",
                    "cos(i)",
                    "min(x, y)",
                    "max(x, y)",
                    "min(x, -0.0)",
                    "max(x, 0.0)",
                    "hour_of_day(i)",
                    "day_of_week(i)",
                    "hour_of_day(i) + day_of_week(j)",
                    "sin(2.0 * 3.141592653589793 * hour_of_day(i) / 24.0)",
                    "b ? x : y",
                    "x > y ? x : y",
                    "double(int(x))",
                    "log1p(double(i) / 100.0) - log1p(x / 100.0)",
                    "double(i) / (x + double(j) + 1.0)",
                    // comparisons: NaN and -0.0 included
                    "i < j",
                    "i <= j",
                    "i > j",
                    "i >= j",
                    "i == j",
                    "i != j",
                    "x < y",
                    "x <= y",
                    "x > y",
                    "x >= y",
                    "x == y",
                    "x != y",
                    "x == x",
                    "x == 0.0",
                    "double(i) == x",
                    "s == t",
                    "s != t",
                    "s == \"ECOM\"",
                    "b == c",
                    "b != c",
                    // logic, with an erroring side either way round
                    "!b",
                    "b && c",
                    "b || c",
                    "!(b && c) || b",
                    "i / j > 0 && b",
                    "b && i / j > 0",
                    "i / j > 0 || b",
                    "b || i / j > 0",
                    "i / j > 0 && j / i > 0",
                    "i / j > 0 || j / i > 0",
                    "i + j > 0 || i * j > 0",
                    "int(x) > 0 && c",
                    "c || int(x) > 0",
                    "!(i / j > 0) || b",
                    "(i / j > 0 && b) || (j % i == 0 && c)",
                    "i == 0 ? true : j / i > 0",
                    "b ? i / j > 0 : j / i > 0",
                    // in a list of literals
                    "s in [\"ECOM\", \"ATM\", \"\", \"5967\"]",
                    "i in [0, 1, -1, 9223372036854775807, -9223372036854775808]",
                    "b in [true]",
                    "c in [false, false]",
                    "!(s in [\"a\"]) && size(s) > 0",
                    // strings
                    "s + t",
                    "b ? s : t",
                    "s + \"x\"",
                    "s.startsWith(t)",
                    "s.endsWith(t)",
                    "s.contains(t)",
                    "s.startsWith(\"E\")",
                    "s.endsWith(\"\\n\")",
                    "size(s) > 0 && size(s) <= 3",
                    "size(s + t) == size(s) + size(t)",
                    // matches with a literal pattern: RE2's partial match
                    "s.matches(\"^[A-Z]{3}$\")",
                    "s.matches(\"^[0-9]{4}$\")",
                    "s.matches(\"[0-9]+\")",
                    "s.matches(\"^.$\")",
                    "s.matches(\"a.b\")",
                    "s.matches(\"\\\\s\")",
                    "s.matches(\"\\\\w+$\")",
                    "s.matches(\"^\\\\d*$\")",
                    "s.matches(\"(?i)ecom\")",
                    "s.matches(\"[[:upper:]]\")",
                    "s.matches(\"[a-z&&[^b]]\")",
                    "s.matches(\"\\\\bab\")",
                    "s.matches(\"^$\")",
                    "s.matches(\"\")",
                    "s.matches(\"\\\\x{1F600}\")",
                    "t.matches(\"^(E|A)[A-Z]+$\")");

    /** Expressions the fast path leaves to CEL's interpreter: they must still agree. */
    static final List<String> INTERPRETED =
            List.of(
                    "x in [0.0, 1.0, -0.0]",
                    "s < t",
                    "s.matches(t)",
                    "[i, j][0] > 0",
                    "string(i) == s",
                    "int(s) == i",
                    "double(s) == x",
                    "s.matches(\"(a)\\\\1\")",
                    "i == 1 || dyn(x) == 1.0");

    static final Expressions EXPRESSIONS = new Expressions(VARIABLES);

    record Case(String source, Expr fast, Expr interpreted) {}

    static final List<Case> CASES = cases();

    private static List<Case> cases() {
        List<Case> cases = new ArrayList<>();
        for (String s : FAST) {
            cases.add(new Case(s, EXPRESSIONS.compile(s), EXPRESSIONS.compileInterpreted(s)));
        }
        for (String s : INTERPRETED) {
            cases.add(new Case(s, EXPRESSIONS.compile(s), EXPRESSIONS.compileInterpreted(s)));
        }
        return cases;
    }

    /** One assignment of the variables. */
    record Env(long i, long j, double x, double y, String s, String t, boolean b, boolean c) {
        Vars vars() {
            Vars v = new Vars(VARIABLES);
            I.set(v, i);
            J.set(v, j);
            X.set(v, x);
            Y.set(v, y);
            S.set(v, s);
            T.set(v, t);
            B.set(v, b);
            C.set(v, c);
            return v;
        }

        @Override
        public String toString() {
            return "i=" + i + " j=" + j + " x=" + x + " y=" + y + " s=" + quoted(s) + " t="
                    + quoted(t) + " b=" + b + " c=" + c;
        }
    }

    static final long[] EDGE_LONGS = {
        0,
        1,
        -1,
        2,
        -2,
        Long.MAX_VALUE,
        Long.MIN_VALUE,
        Long.MAX_VALUE - 1,
        Long.MIN_VALUE + 1,
        3037000500L,
        -3037000500L,
        Integer.MAX_VALUE,
        Integer.MIN_VALUE,
        86_400_000L,
        -86_400_000L,
        -1L - 86_400_000L,
        1_764_547_200_123L,
        -62_135_596_800_000L,
        Long.MAX_VALUE / 86_400_000L * 86_400_000L
    };

    static final double[] EDGE_DOUBLES = {
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        -0.9999999999999999,
        Double.NaN,
        Double.POSITIVE_INFINITY,
        Double.NEGATIVE_INFINITY,
        Double.MIN_VALUE,
        -Double.MIN_VALUE,
        Double.MAX_VALUE,
        -Double.MAX_VALUE,
        9.223372036854775807E18,
        -9.223372036854775808E18,
        Math.nextDown(9.223372036854775807E18),
        Math.nextUp(-9.223372036854775808E18),
        1e300,
        -1e300,
        1e-300,
        709.8,
        710.0,
        -745.2,
        9.3,
        -9.3,
        1.0 / 3.0
    };

    static final String[] EDGE_STRINGS = {
        "",
        "a",
        "E",
        "ECOM",
        "ATM",
        "USD",
        "usd",
        "US",
        "5967",
        "0042",
        "USD\n",
        "USD\r",
        "\n",
        "\r",
        "\u000B",
        " ",
        "\t",
        "a\nb",
        "a\rb",
        "a\u2028b",
        "a\u0085b",
        "axb",
        "ab",
        "b",
        "&",
        "\uD83D\uDE00",
        "a\uD83D\uDE00",
        "\u00E9",
        "e\u0301",
        "\u00C9COM",
        "ecom",
        "ECOMX",
        "1",
        "12345",
        "\u0661\u0662",
        "_",
        "ab ab",
        "\uD800",
        "\uFFFF"
    };

    // ------------------------------------------------------------------ which path

    @Test
    void theFastConstructsRunOnTheFastPath() {
        for (Case c : CASES) {
            assertThat(c.interpreted().fast()).as(c.source()).isFalse();
            assertThat(c.fast().fast())
                    .as("fast path for " + c.source())
                    .isEqualTo(FAST.contains(c.source()));
        }
    }

    /**
     * An expression's references are all it reads: the variables it does not name can take any
     * value without changing its value or error (the event reader skips the fields no expression
     * names).
     */
    @Test
    void anExpressionReadsNothingButItsReferences() {
        Random random = new Random(7);
        Variables.Variable[] all = {I, J, X, Y, S, T, B, C};
        for (Case c : CASES) {
            for (Expr e : List.of(c.fast(), c.interpreted())) {
                assertThat(e.references()).as(c.source()).isSubsetOf(VARIABLES.all().keySet());
                for (int round = 0; round < 20; round++) {
                    Vars v = new Vars(VARIABLES);
                    for (Variables.Variable var : all) {
                        var.set(v, randomValue(var, random));
                    }
                    String before = outcome(e, v);
                    for (Variables.Variable var : all) {
                        if (!e.references().contains(var.name())) {
                            var.set(v, randomValue(var, random));
                        }
                    }
                    assertThat(outcome(e, v))
                            .as("%s (references %s)", c.source(), e.references())
                            .isEqualTo(before);
                }
            }
        }
        assertThat(EXPRESSIONS.compile("i + j > 0 && s == \"b\"").references())
                .containsExactlyInAnyOrder("i", "j", "s");
    }

    private static Object randomValue(Variables.Variable var, Random random) {
        return switch (var.type()) {
            case INT -> (long) random.nextInt(7) - 3;
            case DOUBLE -> random.nextInt(7) - 3 + random.nextDouble();
            case STRING -> List.of("", "a", "b", "ab").get(random.nextInt(4));
            default -> random.nextBoolean();
        };
    }

    private static String outcome(Expr e, Vars v) {
        try {
            return String.valueOf(e.eval(v));
        } catch (EvalException x) {
            return "error";
        }
    }

    @Test
    void anExpressionThatDoesNotCheckIsRefused() {
        assertThatThrownBy(() -> EXPRESSIONS.compile("i + x"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no matching overload");
        assertThatThrownBy(() -> EXPRESSIONS.compile("nope > 1"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("undeclared reference");
    }

    // ------------------------------------------------------------------ both paths agree

    @Test
    void bothPathsAgreeOnEveryPairOfEdgeValues() {
        List<String> disagreements = new ArrayList<>();
        int k = 0;
        for (long i : EDGE_LONGS) {
            for (long j : EDGE_LONGS) {
                k++;
                Env env =
                        new Env(
                                i,
                                j,
                                EDGE_DOUBLES[k % EDGE_DOUBLES.length],
                                EDGE_DOUBLES[(k * 7) % EDGE_DOUBLES.length],
                                EDGE_STRINGS[k % EDGE_STRINGS.length],
                                EDGE_STRINGS[(k * 3) % EDGE_STRINGS.length],
                                k % 2 == 0,
                                k % 3 == 0);
                compareAll(env, disagreements);
            }
        }
        for (double x : EDGE_DOUBLES) {
            for (double y : EDGE_DOUBLES) {
                k++;
                Env env =
                        new Env(
                                EDGE_LONGS[k % EDGE_LONGS.length],
                                EDGE_LONGS[(k * 5) % EDGE_LONGS.length],
                                x,
                                y,
                                EDGE_STRINGS[(k * 11) % EDGE_STRINGS.length],
                                EDGE_STRINGS[k % EDGE_STRINGS.length],
                                k % 2 == 1,
                                k % 5 == 0);
                compareAll(env, disagreements);
            }
        }
        for (String s : EDGE_STRINGS) {
            for (String t : EDGE_STRINGS) {
                k++;
                Env env =
                        new Env(
                                EDGE_LONGS[k % EDGE_LONGS.length],
                                EDGE_LONGS[(k * 13) % EDGE_LONGS.length],
                                EDGE_DOUBLES[(k * 3) % EDGE_DOUBLES.length],
                                EDGE_DOUBLES[k % EDGE_DOUBLES.length],
                                s,
                                t,
                                k % 3 == 1,
                                k % 2 == 0);
                compareAll(env, disagreements);
            }
        }
        for (boolean b : new boolean[] {false, true}) {
            for (boolean c : new boolean[] {false, true}) {
                for (long j : new long[] {0, 1, -1}) {
                    for (double x : new double[] {Double.NaN, 1e19, 1.0, -1.0}) {
                        compareAll(new Env(1, j, x, -x, "a", "b", b, c), disagreements);
                        compareAll(new Env(0, j, x, x, "", "", b, c), disagreements);
                    }
                }
            }
        }
        assertThat(disagreements).isEmpty();
    }

    @Property(
            tries = 3000,
            seed = "20261207",
            shrinking = ShrinkingMode.BOUNDED,
            edgeCases = EdgeCasesMode.NONE)
    void bothPathsAgreeOnRandomValues(@ForAll("envs") Env env) {
        List<String> disagreements = new ArrayList<>();
        compareAll(env, disagreements);
        assertThat(disagreements).isEmpty();
    }

    @Provide
    Arbitrary<Env> envs() {
        Arbitrary<Long> longs =
                Arbitraries.frequencyOf(
                        Tuple.of(3, Arbitraries.of(box(EDGE_LONGS))),
                        Tuple.of(3, Arbitraries.longs().between(-10, 10)),
                        Tuple.of(
                                2,
                                Arbitraries.longs()
                                        .between(-4_000_000_000_000L, 4_000_000_000_000L)),
                        Tuple.of(2, Arbitraries.longs()));
        Arbitrary<Double> doubles =
                Arbitraries.frequencyOf(
                        Tuple.of(3, Arbitraries.of(box(EDGE_DOUBLES))),
                        Tuple.of(3, Arbitraries.doubles().between(-100, 100)),
                        Tuple.of(1, Arbitraries.doubles().between(-1e20, 1e20)),
                        Tuple.of(2, Arbitraries.longs().map(Double::longBitsToDouble)));
        Arbitrary<String> strings =
                Arbitraries.frequencyOf(
                        Tuple.of(3, Arbitraries.of(EDGE_STRINGS)),
                        Tuple.of(
                                3,
                                Arbitraries.strings()
                                        .withChars("EAaCOMTUSD09 \n\r\u000B\u2028\uD83D\uDE00&&[]")
                                        .ofMaxLength(6)),
                        Tuple.of(1, Arbitraries.strings().ofMaxLength(8)));
        Arbitrary<Boolean> bools = Arbitraries.of(true, false);
        return Combinators.combine(longs, longs, doubles, doubles, strings, strings, bools, bools)
                .as(Env::new);
    }

    private static Long[] box(long[] values) {
        Long[] boxed = new Long[values.length];
        for (int k = 0; k < values.length; k++) {
            boxed[k] = values[k];
        }
        return boxed;
    }

    private static Double[] box(double[] values) {
        Double[] boxed = new Double[values.length];
        for (int k = 0; k < values.length; k++) {
            boxed[k] = values[k];
        }
        return boxed;
    }

    // ------------------------------------------------------------------ random expressions

    /**
     * Random well-typed expressions made of the fast path's constructs: each runs on the fast path,
     * and agrees with CEL's interpreter on edge and random values.
     */
    @Property(
            tries = 600,
            seed = "20261208",
            shrinking = ShrinkingMode.OFF,
            edgeCases = EdgeCasesMode.NONE)
    void randomExpressionsAgreeAndRunFast(@ForAll long seed) {
        java.util.Random random = new java.util.Random(seed);
        ValueType type = ValueType.values()[random.nextInt(4)];
        String src = new Generator(random).of(type, 4);
        Expr fast = EXPRESSIONS.compile(src);
        assertThat(fast.fast()).as("fast path for " + src).isTrue();
        assertThat(fast.type()).as(src).isEqualTo(type);
        Case c = new Case(src, fast, EXPRESSIONS.compileInterpreted(src));
        List<String> disagreements = new ArrayList<>();
        for (int k = 0; k < 24; k++) {
            compare(c, randomEnv(random), disagreements);
        }
        assertThat(disagreements).isEmpty();
    }

    private static Env randomEnv(java.util.Random r) {
        return new Env(
                r.nextBoolean() ? EDGE_LONGS[r.nextInt(EDGE_LONGS.length)] : r.nextLong(-20, 20),
                r.nextBoolean() ? EDGE_LONGS[r.nextInt(EDGE_LONGS.length)] : r.nextLong(),
                r.nextBoolean()
                        ? EDGE_DOUBLES[r.nextInt(EDGE_DOUBLES.length)]
                        : r.nextDouble(-100, 100),
                r.nextBoolean()
                        ? EDGE_DOUBLES[r.nextInt(EDGE_DOUBLES.length)]
                        : Double.longBitsToDouble(r.nextLong()),
                EDGE_STRINGS[r.nextInt(EDGE_STRINGS.length)],
                EDGE_STRINGS[r.nextInt(EDGE_STRINGS.length)],
                r.nextBoolean(),
                r.nextBoolean());
    }

    /** Writes a random expression of a given type, of the fast path's constructs. */
    record Generator(java.util.Random r) {

        String of(ValueType type, int depth) {
            if (depth == 0 || r.nextInt(4) == 0) {
                return leaf(type);
            }
            int d = depth - 1;
            if (r.nextInt(10) == 0) {
                return "("
                        + of(ValueType.BOOL, d)
                        + " ? "
                        + of(type, d)
                        + " : "
                        + of(type, d)
                        + ")";
            }
            return switch (type) {
                case INT ->
                        pick(
                                "(" + of(type, d) + " + " + of(type, d) + ")",
                                "(" + of(type, d) + " - " + of(type, d) + ")",
                                "(" + of(type, d) + " * " + of(type, d) + ")",
                                "(" + of(type, d) + " / " + of(type, d) + ")",
                                "(" + of(type, d) + " % " + of(type, d) + ")",
                                "-(" + of(type, d) + ")",
                                "abs(" + of(type, d) + ")",
                                "min(" + of(type, d) + ", " + of(type, d) + ")",
                                "max(" + of(type, d) + ", " + of(type, d) + ")",
                                "int(" + of(ValueType.DOUBLE, d) + ")",
                                "size(" + of(ValueType.STRING, d) + ")",
                                "(" + of(ValueType.STRING, d) + ").size()");
                case DOUBLE ->
                        pick(
                                "(" + of(type, d) + " + " + of(type, d) + ")",
                                "(" + of(type, d) + " - " + of(type, d) + ")",
                                "(" + of(type, d) + " * " + of(type, d) + ")",
                                "(" + of(type, d) + " / " + of(type, d) + ")",
                                "-(" + of(type, d) + ")",
                                "double(" + of(ValueType.INT, d) + ")",
                                "abs(" + of(type, d) + ")",
                                pick("log1p", "log", "exp", "sqrt", "sin", "cos")
                                        + "("
                                        + of(r.nextBoolean() ? ValueType.INT : ValueType.DOUBLE, d)
                                        + ")",
                                pick("min", "max") + "(" + of(type, d) + ", " + of(type, d) + ")",
                                pick("hour_of_day", "day_of_week")
                                        + "("
                                        + of(ValueType.INT, d)
                                        + ")");
                case BOOL ->
                        pick(
                                "!(" + of(type, d) + ")",
                                "(" + of(type, d) + " && " + of(type, d) + ")",
                                "(" + of(type, d) + " || " + of(type, d) + ")",
                                "(" + of(type, d) + pick(" == ", " != ") + of(type, d) + ")",
                                compare(ValueType.INT, d),
                                compare(ValueType.DOUBLE, d),
                                "("
                                        + of(ValueType.STRING, d)
                                        + pick(" == ", " != ")
                                        + of(ValueType.STRING, d)
                                        + ")",
                                "("
                                        + of(ValueType.STRING, d)
                                        + " in [\"\", \"E\", \"ECOM\", \"USD\"])",
                                "(" + of(ValueType.INT, d) + " in [0, 1, -1, 2])",
                                "("
                                        + of(ValueType.STRING, d)
                                        + ")."
                                        + pick("startsWith", "endsWith", "contains")
                                        + "("
                                        + of(ValueType.STRING, d)
                                        + ")",
                                "("
                                        + of(ValueType.STRING, d)
                                        + ").matches("
                                        + pick(
                                                "\"^[A-Z]{3}$\"",
                                                "\"a.b\"",
                                                "\"\\\\s\"",
                                                "\"^$\"",
                                                "\"(?i)e\"",
                                                "\"[[:digit:]]+\"")
                                        + ")");
                case STRING -> pick("(" + of(type, d) + " + " + of(type, d) + ")");
            };
        }

        private String compare(ValueType type, int d) {
            return "("
                    + of(type, d)
                    + pick(" < ", " <= ", " > ", " >= ", " == ", " != ")
                    + of(type, d)
                    + ")";
        }

        private String leaf(ValueType type) {
            return switch (type) {
                case INT ->
                        pick(
                                "i",
                                "j",
                                "i",
                                "j",
                                "0",
                                "1",
                                "-1",
                                "3",
                                "100",
                                "9223372036854775807",
                                "-9223372036854775808",
                                "86400000");
                case DOUBLE ->
                        pick(
                                "x",
                                "y",
                                "x",
                                "y",
                                "0.0",
                                "-0.0",
                                "1.0",
                                "0.5",
                                "100.0",
                                "1e308",
                                "3.141592653589793");
                case BOOL -> pick("b", "c", "true", "false");
                case STRING -> pick("s", "t", "s", "t", "\"\"", "\"E\"", "\"ECOM\"", "\"\\n\"");
            };
        }

        private String pick(String... options) {
            return options[r.nextInt(options.length)];
        }
    }

    // ------------------------------------------------------------------ a few by hand

    @Test
    void intOverflowAndZeroDivisorsAreErrorsOnBothPaths() {
        Env max = new Env(Long.MAX_VALUE, 0, 0, 0, "", "", false, false);
        Env min = new Env(Long.MIN_VALUE, -1, Double.NaN, 1e19, "", "", false, false);
        for (String src : List.of("i + 1", "i * 3037000500", "i / j", "i % j")) {
            assertBothThrow(src, max);
        }
        for (String src : List.of("-i", "i - 1", "abs(i)", "i / j", "int(x)", "int(y)")) {
            assertBothThrow(src, min);
        }
        assertBothThrow("int(-9.223372036854775808e18)", min);
        assertThat(eval("-9223372036854775808 % j", min)).isEqualTo(0L);
    }

    @Test
    void falseAndAnErrorIsFalseEitherWayRound() {
        Env env = new Env(1, 0, 0, 0, "", "", false, true);
        assertThat(eval("i / j > 0 && b", env)).isEqualTo(false);
        assertThat(eval("b && i / j > 0", env)).isEqualTo(false);
        assertThat(eval("i / j > 0 || c", env)).isEqualTo(true);
        assertThat(eval("c || i / j > 0", env)).isEqualTo(true);
        assertBothThrow("i / j > 0 && c", env);
        assertBothThrow("i / j > 0 || b", env);
    }

    @Test
    void matchesIsRe2sPartialMatch() {
        assertThat(eval("s.matches(\"^[A-Z]{3}$\")", env("USD"))).isEqualTo(true);
        // Java's $ matches before a final line end, RE2's only at the end.
        assertThat(eval("s.matches(\"^[A-Z]{3}$\")", env("USD\n"))).isEqualTo(false);
        // Java's . does not match \r, RE2's does.
        assertThat(eval("s.matches(\"a.b\")", env("a\rb"))).isEqualTo(true);
        assertThat(eval("s.matches(\"[0-9]+\")", env("x0042y"))).isEqualTo(true);
    }

    @Test
    void timeFunctionsOfNegativeAndHugeMillis() {
        assertThat(eval("hour_of_day(i)", new Env(-1, 0, 0, 0, "", "", false, false)))
                .isEqualTo((86_400_000.0 - 1) / 3_600_000.0);
        assertThat(eval("day_of_week(i)", new Env(-1, 0, 0, 0, "", "", false, false)))
                .isEqualTo(2.0); // 1969-12-31, a Wednesday
        assertThat(eval("day_of_week(i)", new Env(0, 0, 0, 0, "", "", false, false)))
                .isEqualTo(3.0); // 1970-01-01, a Thursday
        for (long millis : new long[] {Long.MIN_VALUE, Long.MAX_VALUE}) {
            Env env = new Env(millis, 0, 0, 0, "", "", false, false);
            assertThat((Double) eval("hour_of_day(i)", env)).isBetween(0.0, 24.0);
            assertThat((Double) eval("day_of_week(i)", env)).isBetween(0.0, 6.0);
        }
    }

    private static Env env(String s) {
        return new Env(0, 0, 0, 0, s, "", false, false);
    }

    /** The value both paths agree on; fails if they do not. */
    private static Object eval(String src, Env env) {
        List<String> disagreements = new ArrayList<>();
        Case c = caseOf(src);
        compare(c, env, disagreements);
        assertThat(disagreements).isEmpty();
        Outcome o = run(() -> c.fast().eval(env.vars()));
        assertThat(o.error()).as(src + " on " + env).isNull();
        return o.value();
    }

    private static Case caseOf(String src) {
        return CASES.stream()
                .filter(k -> k.source().equals(src))
                .findFirst()
                .orElseGet(
                        () ->
                                new Case(
                                        src,
                                        EXPRESSIONS.compile(src),
                                        EXPRESSIONS.compileInterpreted(src)));
    }

    private static void assertBothThrow(String src, Env env) {
        Case c = caseOf(src);
        assertThat(run(() -> c.fast().eval(env.vars())).error())
                .as("fast path of " + src + " on " + env)
                .isNotNull();
        assertThat(run(() -> c.interpreted().eval(env.vars())).error())
                .as("interpreter on " + src + " on " + env)
                .isNotNull();
    }

    // ------------------------------------------------------------------ comparing

    /** A value, or the EvalException thrown instead; any other exception is thrown on. */
    record Outcome(Object value, EvalException error) {}

    private static Outcome run(java.util.function.Supplier<Object> how) {
        try {
            return new Outcome(how.get(), null);
        } catch (EvalException ex) {
            return new Outcome(null, ex);
        }
    }

    private static void compareAll(Env env, List<String> disagreements) {
        for (Case c : CASES) {
            compare(c, env, disagreements);
        }
    }

    private static void compare(Case c, Env env, List<String> disagreements) {
        Vars vars = env.vars();
        compare(
                c,
                env,
                "eval",
                run(() -> c.fast().eval(vars)),
                run(() -> c.interpreted().eval(vars)),
                disagreements);
        ValueType type = c.interpreted().type();
        if (type != ValueType.STRING) {
            compare(
                    c,
                    env,
                    "evalDouble",
                    run(() -> c.fast().evalDouble(vars)),
                    run(() -> c.interpreted().evalDouble(vars)),
                    disagreements);
        }
        if (type == ValueType.BOOL) {
            compare(
                    c,
                    env,
                    "evalBool",
                    run(() -> c.fast().evalBool(vars)),
                    run(() -> c.interpreted().evalBool(vars)),
                    disagreements);
        }
        if (type == ValueType.INT) {
            compare(
                    c,
                    env,
                    "evalLong",
                    run(() -> c.fast().evalLong(vars)),
                    run(() -> c.interpreted().evalLong(vars)),
                    disagreements);
        }
    }

    private static void compare(
            Case c, Env env, String how, Outcome fast, Outcome cel, List<String> disagreements) {
        boolean same;
        if (fast.error() != null || cel.error() != null) {
            same = fast.error() != null && cel.error() != null;
        } else if (fast.value() instanceof Double a && cel.value() instanceof Double b) {
            same = Double.doubleToLongBits(a) == Double.doubleToLongBits(b);
        } else {
            same = fast.value() != null && fast.value().equals(cel.value());
        }
        if (!same) {
            disagreements.add(
                    c.source()
                            + " ("
                            + how
                            + ") on "
                            + env
                            + ": fast path "
                            + describe(fast)
                            + ", CEL "
                            + describe(cel));
        }
    }

    private static String describe(Outcome o) {
        if (o.error() != null) {
            return "error '" + o.error().getMessage() + "'";
        }
        Object v = o.value();
        return v == null
                ? "null"
                : v.getClass().getSimpleName()
                        + " "
                        + (v instanceof String s ? quoted(s) : String.valueOf(v));
    }

    static String quoted(String s) {
        StringBuilder b = new StringBuilder("\"");
        s.codePoints()
                .forEach(
                        cp -> {
                            if (cp >= 0x20 && cp < 0x7f) {
                                b.appendCodePoint(cp);
                            } else {
                                b.append(String.format("\\u{%x}", cp));
                            }
                        });
        return b.append('"').toString();
    }
}

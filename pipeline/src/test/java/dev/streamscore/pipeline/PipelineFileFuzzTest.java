package dev.streamscore.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.Tuple;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import net.jqwik.api.statistics.Statistics;

/**
 * Fuzzing of the pipeline file's reader: the valid card-fraud file put through random mutations
 * (lines deleted, repeated, swapped or re-indented, tokens replaced by others from the file or by
 * YAML's special characters, characters deleted or inserted, the file cut short), and its
 * expressions replaced by random strings of CEL tokens. Whatever the text, {@link Pipeline#load}
 * returns a pipeline (which then compiles) or throws a {@link PipelineException} with at least one
 * problem that says something; never another exception.
 */
class PipelineFileFuzzTest {

    static final Path CARD =
            Path.of("..").toAbsolutePath().normalize().resolve("pipelines/card-fraud.yaml");
    static final String YAML = read(CARD);
    static final List<String> LINES = YAML.lines().toList();
    static final Pattern TOKEN = Pattern.compile("[^\\s:,{}\\[\\]()'\"]+|[:,{}\\[\\]()'\"]");
    static final List<String> FILE_TOKENS = tokens(YAML);

    /** YAML's special characters, and values that test the reader's conversions. */
    static final List<String> SPECIAL =
            List.of(
                    ":",
                    ": ",
                    "[",
                    "]",
                    "{",
                    "}",
                    "'",
                    "\"",
                    "*",
                    "&a",
                    "*a",
                    "&a x",
                    "!!binary",
                    "!!int",
                    "!!str",
                    "!!float",
                    "!!bool",
                    "!!null",
                    "!!map",
                    "!!seq",
                    "!local",
                    "!<tag:yaml.org,2002:str>",
                    "%",
                    "%YAML 1.1",
                    "---",
                    "...",
                    "-",
                    "- ",
                    "?",
                    "? ",
                    "|",
                    ">",
                    "|-",
                    "#",
                    "@",
                    "`",
                    "!",
                    "~",
                    "null",
                    "true",
                    "false",
                    "yes",
                    "no",
                    "on",
                    "0",
                    "-1",
                    "0.0",
                    "1e309",
                    "-1e309",
                    ".inf",
                    "-.inf",
                    ".nan",
                    "0x1F",
                    "0o17",
                    "0b101",
                    "1_000",
                    "1:20:30",
                    "9223372036854775808",
                    "-9223372036854775809",
                    "99999999999999999999999",
                    "\"\\0\"",
                    "\"\\x00\"",
                    "\"\\uD800\"",
                    "\"\\U0001F600\"",
                    "<<",
                    "<<: *a",
                    "=",
                    "\t",
                    "  ",
                    "\\",
                    "\"a\\\"b\"",
                    "'a''b'",
                    "bundled:",
                    "bundled:mlp",
                    "/",
                    "..",
                    "../..",
                    "/dev/null",
                    "/",
                    "C:\\x",
                    "classpath:x",
                    "Transaction.avsc",
                    "FraudScore.avsc",
                    "card-fraud.yaml",
                    "confluent-avro",
                    "json",
                    "avro",
                    "{count: true}",
                    "[1, 2]",
                    "{}",
                    "[]",
                    "{a: {b: {c: {}}}}",
                    "x".repeat(300));

    static final String[] UNICODE = {
        "\u0000",
        "\u0001",
        "\u0007",
        "\b",
        "\t",
        "\n",
        "\r",
        "\u000B",
        "\f",
        "\u001B",
        "\u007F",
        "\u0085",
        "\u00A0",
        "\u00E9",
        "\u2028",
        "\u2029",
        "\u200B",
        "\uFEFF",
        "\uFFFE",
        "\uFFFF",
        "\uD800",
        "\uDC00",
        "\uD83D\uDE00",
        "\u202E",
        "\u0301",
        "\u4E2D",
        "\u0661",
        "\uFF1A"
    };

    static Path dir;
    static int loaded;

    @BeforeContainer
    static void copySchemas() throws IOException {
        dir = Files.createTempDirectory("pipeline-fuzz");
        Files.copy(CARD.resolveSibling("Transaction.avsc"), dir.resolve("Transaction.avsc"));
        Files.copy(CARD.resolveSibling("FraudScore.avsc"), dir.resolve("FraudScore.avsc"));
    }

    @AfterContainer
    static void removeFolder() throws IOException {
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) {
                Files.delete(f);
            }
        }
        Files.delete(dir);
    }

    private static String read(Path p) {
        try {
            return Files.readString(p, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static List<String> tokens(String text) {
        List<String> tokens = new ArrayList<>();
        Matcher m = TOKEN.matcher(text);
        while (m.find()) {
            tokens.add(m.group());
        }
        return tokens;
    }

    // ------------------------------------------------------------------ the properties

    // About 20 ms a try (the whole file checked, its model's descriptor read): the tries are set
    // to keep this class near half a minute.
    @Property(
            tries = 1500,
            seed = "1207",
            shrinking = ShrinkingMode.BOUNDED,
            edgeCases = EdgeCasesMode.NONE)
    void aMutatedFileLoadsOrSaysWhatIsWrong(@ForAll("mutatedFiles") String yaml) {
        check(yaml);
        // The mutations reach past the YAML into the checks, and some leave a valid file.
        Statistics.label("outcome")
                .coverage(
                        c -> {
                            c.check("YAML").percentage(p -> p > 10);
                            c.check("problems").percentage(p -> p > 20);
                            c.check("loaded").percentage(p -> p > 3);
                        });
    }

    @Property(
            tries = 400,
            seed = "1208",
            shrinking = ShrinkingMode.BOUNDED,
            edgeCases = EdgeCasesMode.NONE)
    void aRandomExpressionLoadsOrSaysWhatIsWrong(
            @ForAll("filesWithRandomExpressions") String yaml) {
        check(yaml);
        Statistics.label("outcome")
                .coverage(
                        c -> {
                            c.check("problems").percentage(p -> p > 30);
                            c.check("loaded").percentage(p -> p > 3);
                        });
    }

    /** The file as it is: it loads (so that the mutations start from a valid file). */
    @net.jqwik.api.Example
    void theFileItselfLoads() {
        assertThat(check(YAML)).isEqualTo("loaded");
    }

    private static String check(String yaml) {
        return check(yaml.getBytes(StandardCharsets.UTF_8), yaml); // a lone surrogate as '?'
    }

    /** An ISO-8859-1 file: not UTF-8 where it has an accent. */
    @net.jqwik.api.Example
    void aFileThatIsNotUtf8() {
        String yaml = YAML.replace("name: card-fraud", "name: card-fraud # caf\u00e9");
        assertThat(check(yaml.getBytes(StandardCharsets.ISO_8859_1), yaml)).isEqualTo("problems");
    }

    private static String check(byte[] bytes, String yaml) {
        Path file = dir.resolve("card-fraud.yaml");
        try {
            Files.write(file, bytes);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        String outcome;
        try {
            Pipeline p = Pipeline.load(file.toString(), null, true);
            // What the reader accepts must compile for a subtask.
            Pipeline.Compiled c = p.newEngine(16);
            assertThat(c.engine()).isNotNull();
            assertThat(p.featureNames()).isNotEmpty();
            outcome = "loaded";
        } catch (PipelineException e) {
            assertThat(e.problems()).as(e.getMessage()).isNotEmpty();
            for (Problem problem : e.problems()) {
                assertThat(problem.message()).as(e.getMessage()).isNotBlank();
                assertThat(problem.line()).isBetween(0, yaml.split("\n", -1).length + 1);
                assertThat(problem.file()).isEqualTo(file.toString());
            }
            assertThat(e.getMessage()).isNotBlank();
            outcome =
                    e.problems().get(0).message().startsWith("not valid YAML")
                            ? "YAML"
                            : "problems";
        } catch (Throwable t) {
            StringWriter stack = new StringWriter();
            t.printStackTrace(new PrintWriter(stack));
            return fail(
                    "the reader threw "
                            + t
                            + " instead of a PipelineException, on:\n"
                            + yaml
                            + "\n"
                            + stack);
        }
        Statistics.label("outcome").collect(outcome);
        return outcome;
    }

    // ------------------------------------------------------------------ mutated files

    /**
     * One mutation: its kind and the random numbers it draws on. 0: a line deleted, 1: repeated, 2:
     * two swapped, 3: re-indented; 4: a token replaced by another of the file's, 5: by a special or
     * a random word; 6: a character deleted, 7: a random character put in, 8: the file cut short,
     * 9: a special or a word put in, 10: the value of a 'key: value' line replaced.
     */
    record Mutation(int kind, int a, int b, String token) {

        String applyTo(String text) {
            List<String> lines = new ArrayList<>(List.of(text.split("\n", -1)));
            int n = lines.size();
            int i = Math.floorMod(a, n);
            int j = Math.floorMod(b, n);
            switch (kind) {
                case 0 -> lines.remove(i);
                case 1 -> lines.add(i, lines.get(i));
                case 2 -> {
                    String t = lines.get(i);
                    lines.set(i, lines.get(j));
                    lines.set(j, t);
                }
                case 3 -> {
                    String line = lines.get(i);
                    int shift = Math.floorMod(b, 9) - 4;
                    lines.set(
                            i,
                            shift >= 0
                                    ? " ".repeat(shift) + line
                                    : line.substring(Math.min(-shift, leading(line))));
                }
                case 4, 5 -> {
                    // a token replaced: by another of the file's (4) or by this one (5)
                    List<int[]> spans = new ArrayList<>();
                    Matcher m = TOKEN.matcher(text);
                    while (m.find()) {
                        spans.add(new int[] {m.start(), m.end()});
                    }
                    if (spans.isEmpty()) {
                        return text;
                    }
                    int[] span = spans.get(Math.floorMod(a, spans.size()));
                    String by =
                            kind == 4
                                    ? FILE_TOKENS.get(Math.floorMod(b, FILE_TOKENS.size()))
                                    : token;
                    return text.substring(0, span[0]) + by + text.substring(span[1]);
                }
                case 6 -> {
                    if (text.isEmpty()) {
                        return text;
                    }
                    int at = Math.floorMod(a, text.length());
                    return text.substring(0, at) + text.substring(at + 1);
                }
                case 7 -> {
                    int at = Math.floorMod(a, text.length() + 1);
                    return text.substring(0, at) + token + text.substring(at);
                }
                case 8 -> {
                    return text.substring(0, Math.floorMod(a, text.length() + 1));
                }
                case 10 -> {
                    // the value of a 'key: value' line replaced
                    List<Integer> keyed = new ArrayList<>();
                    for (int k = 0; k < n; k++) {
                        if (lines.get(k).matches("\\s*(- )?[a-z_0-9]+: .*")) {
                            keyed.add(k);
                        }
                    }
                    if (keyed.isEmpty()) {
                        return text;
                    }
                    int k = keyed.get(Math.floorMod(a, keyed.size()));
                    String line = lines.get(k);
                    lines.set(k, line.substring(0, line.indexOf(": ") + 2) + token);
                }
                default -> {
                    // a token put in at a random place
                    int at = Math.floorMod(a, text.length() + 1);
                    return text.substring(0, at) + token + text.substring(at);
                }
            }
            return String.join("\n", lines);
        }

        private static int leading(String line) {
            int k = 0;
            while (k < line.length() && line.charAt(k) == ' ') {
                k++;
            }
            return k;
        }
    }

    @Provide
    Arbitrary<String> mutatedFiles() {
        Arbitrary<Integer> ints = Arbitraries.integers().between(0, 1_000_000);
        Arbitrary<String> specials = Arbitraries.of(SPECIAL);
        Arbitrary<String> unicode =
                Arbitraries.oneOf(
                        Arbitraries.of(UNICODE),
                        Arbitraries.strings().all().ofMinLength(1).ofMaxLength(3));
        Arbitrary<String> words =
                Arbitraries.oneOf(
                        Arbitraries.strings().alpha().ofMinLength(1).ofMaxLength(8),
                        Arbitraries.longs().map(String::valueOf),
                        Arbitraries.doubles().map(String::valueOf));
        Arbitrary<Mutation> mutation =
                Arbitraries.frequencyOf(
                        Tuple.of(2, mutation(0, ints, Arbitraries.just(""))),
                        Tuple.of(2, mutation(1, ints, Arbitraries.just(""))),
                        Tuple.of(2, mutation(2, ints, Arbitraries.just(""))),
                        Tuple.of(2, mutation(3, ints, Arbitraries.just(""))),
                        Tuple.of(3, mutation(4, ints, Arbitraries.just(""))),
                        Tuple.of(4, mutation(5, ints, Arbitraries.oneOf(specials, words))),
                        Tuple.of(2, mutation(6, ints, Arbitraries.just(""))),
                        Tuple.of(2, mutation(7, ints, unicode)),
                        Tuple.of(1, mutation(8, ints, Arbitraries.just(""))),
                        Tuple.of(2, mutation(9, ints, Arbitraries.oneOf(specials, words))),
                        Tuple.of(4, mutation(10, ints, Arbitraries.oneOf(specials, words))));
        return mutation.list()
                .ofMinSize(1)
                .ofMaxSize(4)
                .map(
                        changes -> {
                            String text = YAML;
                            for (Mutation m : changes) {
                                text = m.applyTo(text);
                            }
                            return text;
                        });
    }

    private static Arbitrary<Mutation> mutation(
            int kind, Arbitrary<Integer> ints, Arbitrary<String> tokens) {
        return Combinators.combine(ints, ints, tokens).as((a, b, t) -> new Mutation(kind, a, b, t));
    }

    // ------------------------------------------------------------------ random expressions

    /** The lines whose expression the CEL fuzzing replaces: checks, aggregate values, features. */
    static final List<Integer> EXPRESSION_LINES = expressionLines();

    private static List<Integer> expressionLines() {
        List<Integer> found = new ArrayList<>();
        for (int k = 0; k < LINES.size(); k++) {
            String line = LINES.get(k);
            if (line.startsWith("    - ")
                    || line.matches("  - [a-z_0-9]+: .*")
                    || line.matches("  [a-z_0-9]+: +\\{.*")) {
                found.add(k);
            }
        }
        assertThat(found).hasSizeGreaterThan(20);
        return found;
    }

    static final List<String> CEL_TOKENS =
            List.of(
                    // the file's names, and some it does not have
                    "amount_minor",
                    "card_present",
                    "channel",
                    "country",
                    "currency",
                    "device_id",
                    "event_time",
                    "merchant_category",
                    "merchant_id",
                    "card_id",
                    "count_1h",
                    "sum_1h",
                    "avg_amount",
                    "prev_time",
                    "prev_country",
                    "seen",
                    "countries_24h",
                    "nope",
                    "x",
                    "_",
                    "in",
                    "as",
                    "package",
                    "__proto__",
                    // literals
                    "0",
                    "1",
                    "-1",
                    "2",
                    "1.5",
                    "0.0",
                    "-0.0",
                    "100.0",
                    "1e309",
                    "1e-400",
                    "9223372036854775807",
                    "9223372036854775808",
                    "-9223372036854775808",
                    "0x10",
                    "1u",
                    "18446744073709551616u",
                    "\"ECOM\"",
                    "\"\"",
                    "'a'",
                    "r\"\\d\"",
                    "b\"\\xff\"",
                    "\"\"\"x\"\"\"",
                    "\"\\u00e9\"",
                    "\"\\z\"",
                    "true",
                    "false",
                    "null",
                    // operators and punctuation
                    "+",
                    "-",
                    "*",
                    "/",
                    "%",
                    "==",
                    "!=",
                    "<",
                    "<=",
                    ">",
                    ">=",
                    "&&",
                    "||",
                    "!",
                    "?",
                    ":",
                    "in",
                    ".",
                    ",",
                    "(",
                    ")",
                    "[",
                    "]",
                    "{",
                    "}",
                    "?.",
                    "#",
                    "$",
                    "`",
                    // functions and macros
                    "size",
                    "double",
                    "int",
                    "uint",
                    "string",
                    "bytes",
                    "bool",
                    "dyn",
                    "type",
                    "log1p",
                    "log",
                    "exp",
                    "sqrt",
                    "abs",
                    "sin",
                    "cos",
                    "min",
                    "max",
                    "hour_of_day",
                    "day_of_week",
                    "matches",
                    "startsWith",
                    "endsWith",
                    "contains",
                    "has",
                    "exists",
                    "all",
                    "map",
                    "filter",
                    "duration",
                    "timestamp",
                    "getHours",
                    "optional");

    static final List<String> EXPRESSION_TEMPLATES =
            List.of(
                    "double(%s)",
                    "log1p(double(%s))",
                    "%s ? 1.0 : 0.0",
                    "int(%s)",
                    "size(%s)",
                    "%s.matches(\"^[A-Z]+$\")",
                    "[%s].size()",
                    "%s in [1, 2]",
                    "-(%s)",
                    "(%s) / 0",
                    "min(%s, %s)",
                    "hour_of_day(%s)",
                    "double(%s) / 100.0",
                    "%s == null",
                    "%s + %s",
                    "!%s",
                    "%s.startsWith(%s)",
                    "abs(%s)");

    @Provide
    Arbitrary<String> filesWithRandomExpressions() {
        Arbitrary<String> tokenSoup =
                Arbitraries.of(CEL_TOKENS)
                        .list()
                        .ofMinSize(1)
                        .ofMaxSize(14)
                        .flatMap(
                                tokens ->
                                        Arbitraries.of(" ", "")
                                                .map(sep -> String.join(sep, tokens)));
        Arbitrary<String> operand =
                Arbitraries.oneOf(
                        Arbitraries.of(CEL_TOKENS).filter(t -> t.matches("[\\w\".'-]+")),
                        Arbitraries.of(
                                "amount_minor",
                                "event_time",
                                "channel",
                                "device_id",
                                "card_present",
                                "count_1h",
                                "sum_1h",
                                "prev_country"));
        Arbitrary<String> templated =
                Combinators.combine(Arbitraries.of(EXPRESSION_TEMPLATES), operand, operand)
                        .as((t, a, b) -> String.format(t, a, b));
        Arbitrary<String> deep =
                Combinators.combine(
                                // around CEL's recursion limit (250), and some way past it
                                Arbitraries.of(1, 2, 5, 20, 60, 248, 252, 400),
                                Arbitraries.of(
                                        "(%s)",
                                        "-%s",
                                        "!%s",
                                        "double(%s)",
                                        "[%s]",
                                        "%s + 1",
                                        "1.0 * %s",
                                        "{1: %s}"))
                        .as(
                                (n, wrap) -> {
                                    String e = wrap.startsWith("!") ? "true" : "1";
                                    for (int k = 0; k < n; k++) {
                                        e = String.format(wrap, e);
                                    }
                                    return e;
                                });
        Arbitrary<String> expression =
                Arbitraries.frequencyOf(
                        Tuple.of(5, tokenSoup),
                        Tuple.of(4, templated),
                        Tuple.of(1, deep),
                        Tuple.of(1, Arbitraries.strings().ofMaxLength(20)));
        return Combinators.combine(
                        Arbitraries.of(EXPRESSION_LINES), expression, Arbitraries.of(1, 2))
                .as(
                        (line, expr, quoting) -> {
                            List<String> lines = new ArrayList<>(LINES);
                            String old = lines.get(line);
                            String yamlValue =
                                    quoting == 1
                                            ? "'" + expr.replace("'", "''") + "'"
                                            : "\""
                                                    + expr.replace("\\", "\\\\")
                                                            .replace("\"", "\\\"")
                                                    + "\"";
                            String replaced;
                            if (old.startsWith("    - ")) { // a check
                                replaced = "    - " + yamlValue;
                            } else if (old.contains("{")) { // an aggregate
                                String kind =
                                        List.of(
                                                        "sum",
                                                        "avg",
                                                        "min",
                                                        "max",
                                                        "distinct",
                                                        "first",
                                                        "last",
                                                        "where")
                                                .get(Math.floorMod(expr.hashCode(), 8));
                                replaced =
                                        old.substring(0, old.indexOf('{'))
                                                + (kind.equals("where")
                                                        ? "{count: true, where: " + yamlValue + "}"
                                                        : "{"
                                                                + kind
                                                                + ": "
                                                                + yamlValue
                                                                + ", window: 1h}");
                            } else {
                                replaced = old.substring(0, old.indexOf(": ") + 2) + yamlValue;
                            }
                            lines.set(line, replaced);
                            return String.join("\n", lines) + "\n";
                        });
    }
}

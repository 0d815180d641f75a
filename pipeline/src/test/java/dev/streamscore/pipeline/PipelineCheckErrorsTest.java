package dev.streamscore.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@code pipeline check} says of a broken file: each test copies the valid card-fraud file
 * (and its two schemas) into a temporary folder, breaks one thing, and checks the problem reported:
 * its line, its message, and that it says how to fix it. A broken thing must not drag others along
 * (an aggregate with a bad window is still one problem, not one more per feature that reads it).
 */
class PipelineCheckErrorsTest {

    static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    static final Path CARD = ROOT.resolve("pipelines/card-fraud.yaml");
    static final String YAML = read(CARD);
    static final String TRANSACTION = read(CARD.resolveSibling("Transaction.avsc"));
    static final String FRAUD_SCORE = read(CARD.resolveSibling("FraudScore.avsc"));

    @TempDir Path dir;

    private static String read(Path p) {
        try {
            return Files.readString(p, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    // ------------------------------------------------------------------ helpers

    /** The card-fraud file with {@code from} (which must occur exactly once) replaced. */
    static String edit(String yaml, String from, String to) {
        int at = yaml.indexOf(from);
        assertThat(at).as("'" + from + "' in the file").isGreaterThanOrEqualTo(0);
        assertThat(yaml.indexOf(from, at + 1)).as("'" + from + "' once in the file").isEqualTo(-1);
        return yaml.substring(0, at) + to + yaml.substring(at + from.length());
    }

    static String edit(String from, String to) {
        return edit(YAML, from, to);
    }

    /** The file with a line inserted after line {@code after} (1-based). */
    static String insertAfter(int after, String line) {
        List<String> lines = new java.util.ArrayList<>(YAML.lines().toList());
        lines.add(after, line);
        return String.join("\n", lines) + "\n";
    }

    private Path write(String yaml, String transaction, String fraudScore) throws IOException {
        if (transaction != null) {
            Files.writeString(dir.resolve("Transaction.avsc"), transaction);
        }
        if (fraudScore != null) {
            Files.writeString(dir.resolve("FraudScore.avsc"), fraudScore);
        }
        Path file = dir.resolve("card-fraud.yaml");
        Files.writeString(file, yaml);
        return file;
    }

    /** The problems of a file that must not load. */
    private List<Problem> problems(String yaml) throws IOException {
        return problems(yaml, TRANSACTION, FRAUD_SCORE);
    }

    private List<Problem> problems(String yaml, String transaction, String fraudScore)
            throws IOException {
        Path file = write(yaml, transaction, fraudScore);
        try {
            Pipeline.load(file.toString(), null, true);
        } catch (PipelineException e) {
            List<Problem> problems = e.problems();
            assertThat(problems).isNotEmpty();
            assertThat(e.getMessage()).contains(problems.get(0).message());
            for (Problem p : problems) {
                assertThat(p.file()).isEqualTo(file.toString());
                assertThat(p.message()).isNotBlank();
            }
            // In file order: a whole-file problem (line 0) first.
            assertThat(problems).isSortedAccordingTo(Comparator.comparingInt(Problem::line));
            return problems;
        }
        return fail("expected problems, the file loaded:\n" + yaml);
    }

    /** The one problem reported, at {@code line}, its message holding each fragment, with a fix. */
    private static Problem one(List<Problem> problems, int line, String... fragments) {
        assertThat(problems).as(describe(problems)).hasSize(1);
        return at(problems, line, fragments);
    }

    /** A problem at {@code line} whose message holds each fragment, with a fix. */
    private static Problem at(List<Problem> problems, int line, String... fragments) {
        for (Problem p : problems) {
            if (p.line() == line
                    && java.util.Arrays.stream(fragments).allMatch(f -> p.message().contains(f))) {
                assertThat(p.fix()).as("the fix of " + p).isNotBlank();
                return p;
            }
        }
        return fail(
                "no problem at line "
                        + line
                        + " saying "
                        + List.of(fragments)
                        + "; the problems:\n"
                        + describe(problems));
    }

    private static String describe(List<Problem> problems) {
        return problems.stream().map(Problem::toString).collect(Collectors.joining("\n"));
    }

    // ------------------------------------------------------------------ the file as a whole

    @Test
    void theValidFileLoads() throws Exception {
        Pipeline p = Pipeline.load(write(YAML, TRANSACTION, FRAUD_SCORE).toString(), null, true);
        assertThat(p.featureNames()).hasSize(18);
    }

    @Test
    void anEmptyFile() throws Exception {
        one(problems(""), 0, "the file is empty");
        one(problems("# nothing but a comment\n\n"), 0, "the file is empty");
    }

    @Test
    void aFileThatIsNotAMapping() throws Exception {
        assertThat(problems("just some words\n"))
                .singleElement()
                .satisfies(p -> assertThat(p.message()).contains("must be a mapping"));
        assertThat(problems("- a\n- b\n"))
                .singleElement()
                .satisfies(p -> assertThat(p.message()).contains("found a list"));
    }

    @Test
    void yamlSyntaxErrorFromAnUnquotedColonInAnExpression() throws Exception {
        String yaml =
                edit(
                        "  - card_present: \"card_present ? 1.0 : 0.0\"",
                        "  - card_present: card_present ? 1.0 : 0.0");
        Problem p = one(problems(yaml), 35, "not valid YAML", "mapping values are not allowed");
        assertThat(p.fix()).contains("quote");
    }

    @Test
    void yamlSyntaxErrorFromABadIndentation() throws Exception {
        one(
                problems(edit("\n  schema: Transaction.avsc", "\n   schema: Transaction.avsc")),
                8,
                "not valid YAML");
    }

    @Test
    void yamlSyntaxErrorFromATab() throws Exception {
        Problem p =
                one(
                        problems(edit("  topic: transactions\n", "\ttopic: transactions\n")),
                        6,
                        "not valid YAML");
        assertThat(p.fix()).contains("spaces, not tabs");
    }

    @Test
    void aControlCharacter() throws Exception {
        one(
                problems(edit("  topic: transactions\n", "  topic: trans\u0001actions\n")),
                6,
                "not valid YAML: the character U+0001 is not allowed");
        one(
                problems(edit("  - hour_cos:", "  - hour_cos\u0007:")),
                41,
                "not valid YAML: the character U+0007 is not allowed");
    }

    @Test
    void unknownTopLevelKeyWithADidYouMean() throws Exception {
        List<Problem> problems = problems(edit("\nfeatures:\n", "\nfeature:\n"));
        Problem p = at(problems, 33, "unknown key 'feature' at the top level");
        assertThat(p.fix()).contains("did you mean 'features'?");
        // and, the file as a whole, that features is missing
        at(problems, 0, "needs 'features'");
        assertThat(problems).hasSize(2);
    }

    @Test
    void unknownKeyUnderInputWithADidYouMean() throws Exception {
        List<Problem> problems =
                problems(edit("  topic: transactions\n", "  topics: transactions\n"));
        Problem p = at(problems, 6, "unknown key 'topics' under input");
        assertThat(p.fix()).contains("did you mean 'topic'?");
        at(problems, 6, "input needs 'topic'");
        assertThat(problems).hasSize(2);
    }

    @Test
    void aKeyGivenTwiceIsReportedOnce() throws Exception {
        one(
                problems(insertAfter(6, "  topic: more-transactions")),
                7,
                "'topic' is given twice in input");
    }

    @Test
    void missingRequiredOutput() throws Exception {
        String yaml = YAML.substring(0, YAML.indexOf("output:\n"));
        Problem p = one(problems(yaml), 0, "the file needs 'output'");
        assertThat(p.fix()).contains("docs/pipelines.md");
    }

    @Test
    void missingRequiredKeyUnderInput() throws Exception {
        one(
                problems(edit("  key: card_id                  # per-card state\n", "")),
                6,
                "input needs 'key'");
    }

    @Test
    void anInvalidName() throws Exception {
        one(
                problems(edit("name: card-fraud", "name: card fraud!")),
                4,
                "name 'card fraud!' is not a name");
    }

    // ------------------------------------------------------------------ input

    @Test
    void unknownKeyField() throws Exception {
        Problem p =
                one(
                        problems(edit("key: card_id ", "key: card_idd ")),
                        9,
                        "input.key: the schema has no field 'card_idd'");
        assertThat(p.fix()).contains("did you mean 'card_id'?");
    }

    @Test
    void unknownIdField() throws Exception {
        Problem p =
                one(
                        problems(edit("id: transaction_id ", "id: transacton_id ")),
                        10,
                        "input.id: the schema has no field 'transacton_id'");
        assertThat(p.fix()).contains("did you mean 'transaction_id'?");
    }

    @Test
    void unknownTimeField() throws Exception {
        Problem p =
                one(
                        problems(edit("time: event_time\n", "time: event_tme\n")),
                        11,
                        "input.time: the schema has no field 'event_tme'");
        assertThat(p.fix()).contains("did you mean 'event_time'?");
    }

    @Test
    void aKeyFieldThatIsNeitherAStringNorANumber() throws Exception {
        one(
                problems(edit("key: card_id ", "key: card_present ")),
                9,
                "input.key: field 'card_present' is of type \"boolean\"");
    }

    @Test
    void aTimeFieldThatIsNotALong() throws Exception {
        Problem p =
                one(
                        problems(edit("time: event_time\n", "time: merchant_id\n")),
                        11,
                        "input.time: field 'merchant_id' is of type \"string\", not a time");
        assertThat(p.fix()).contains("long");
    }

    @Test
    void aTimeFieldThatIsADouble() throws Exception {
        String transaction =
                TRANSACTION.replace(
                        "{\"name\": \"event_time\", \"type\": {\"type\": \"long\", \"logicalType\":"
                                + " \"timestamp-millis\"}",
                        "{\"name\": \"event_time\", \"type\": \"double\"");
        assertThat(transaction).isNotEqualTo(TRANSACTION);
        List<Problem> problems = problems(YAML, transaction, FRAUD_SCORE);
        at(problems, 11, "input.time: field 'event_time' is of type \"double\", not a time");
    }

    @Test
    void anInputSchemaFileThatIsMissing() throws Exception {
        Problem p =
                one(
                        problems(edit("schema: Transaction.avsc", "schema: Transactions.avsc")),
                        8,
                        "input.schema: cannot read 'Transactions.avsc'",
                        "no such file");
        assertThat(p.fix()).contains(".avsc");
    }

    @Test
    void anInputSchemaThatIsNotARecord() throws Exception {
        one(
                problems(
                        YAML,
                        "{\"type\": \"enum\", \"name\": \"Channel\", \"symbols\": [\"POS\"]}",
                        FRAUD_SCORE),
                8,
                "input.schema: 'Transaction.avsc' is an enum, not a record");
    }

    @Test
    void anInputSchemaThatIsNotAvro() throws Exception {
        one(
                problems(
                        YAML, "{\"type\": \"record\", \"name\": \"T\", \"fields\": [", FRAUD_SCORE),
                8,
                "input.schema: 'Transaction.avsc' is not an Avro schema");
    }

    @Test
    void anUnknownFormat() throws Exception {
        Problem p =
                one(
                        problems(edit("format: avro                  #", "format: protobuf   #")),
                        7,
                        "input.format 'protobuf' is not a format");
        assertThat(p.fix()).contains("avro").contains("json").doesNotContain("confluent");
    }

    @Test
    void confluentAvroIsRefusedAsNotAvailable() throws Exception {
        Problem p =
                one(
                        problems(
                                edit(
                                        "format: avro                  #",
                                        "format: confluent-avro #")),
                        7,
                        "input.format confluent-avro",
                        "not available in this version");
        assertThat(p.fix()).contains("avro").contains("json");
        one(
                problems(
                        edit(
                                "  format: avro\n  schema: FraudScore.avsc",
                                "  format: confluent-avro\n  schema: FraudScore.avsc")),
                57,
                "output.format confluent-avro",
                "not available in this version");
    }

    // ------------------------------------------------------------------ checks

    @Test
    void aCheckThatIsNotBool() throws Exception {
        Problem p =
                one(
                        problems(
                                edit(
                                        "    - amount_minor > 0 && amount_minor <= 1000000000000\n",
                                        "    - amount_minor\n")),
                        15,
                        "check 'amount_minor' is int, not bool");
        assertThat(p.fix()).contains("condition");
    }

    @Test
    void aCheckWithAnUnknownField() throws Exception {
        Problem p =
                one(
                        problems(edit("    - currency.matches(", "    - currncy.matches(")),
                        16,
                        "undeclared reference to 'currncy'");
        assertThat(p.fix()).contains("currency");
        // a check sees the event's fields, not the aggregates
        assertThat(p.fix()).doesNotContain("count_1h");
    }

    // ------------------------------------------------------------------ features

    @Test
    void anUnknownFieldInAFeatureExpression() throws Exception {
        Problem p =
                one(
                        problems(
                                edit(
                                        "log1p(double(amount_minor) / 100.0)",
                                        "log1p(double(amount_minr) / 100.0)")),
                        34,
                        "feature amount_log",
                        "undeclared reference to 'amount_minr'");
        assertThat(p.message()).doesNotContain("in container");
        assertThat(p.fix())
                .startsWith("did you mean 'amount_minor'? names it can use:")
                .contains("count_1h", "seen");
    }

    @Test
    void aCelTypeErrorIntPlusDouble() throws Exception {
        Problem p =
                one(
                        problems(
                                edit(
                                        "  - txn_count_1h: double(count_1h)",
                                        "  - txn_count_1h: count_1h + 0.5")),
                        42,
                        "feature txn_count_1h",
                        "no matching overload");
        assertThat(p.fix()).contains("double(x)");
    }

    @Test
    void aCelSyntaxError() throws Exception {
        one(
                problems(
                        edit(
                                "  - txn_count_1h: double(count_1h)",
                                "  - txn_count_1h: double(count_1h")),
                42,
                "feature txn_count_1h");
    }

    @Test
    void aFeatureThatIsAString() throws Exception {
        Problem p =
                one(
                        problems(
                                edit(
                                        "  - channel_ecom: 'channel == \"ECOM\" ? 1.0 : 0.0'",
                                        "  - channel_ecom: channel")),
                        36,
                        "feature channel_ecom is a string, not a number");
        assertThat(p.fix()).contains("1.0 : 0.0");
    }

    @Test
    void aFeatureThatIsNull() throws Exception {
        one(
                problems(edit("  - txn_count_1h: double(count_1h)", "  - txn_count_1h: \"null\"")),
                42,
                "feature txn_count_1h",
                "expected bool, int, double or string");
    }

    @Test
    void aFeatureThatIsNotANamePair() throws Exception {
        one(
                problems(edit("  - txn_count_1h: double(count_1h)", "  - double(count_1h)")),
                42,
                "a feature must be one 'name: expression' pair");
    }

    @Test
    void aDuplicateFeatureName() throws Exception {
        List<Problem> problems =
                problems(
                        edit(
                                "  - channel_atm: 'channel == \"ATM\"",
                                "  - channel_ecom: 'channel == \"ATM\""));
        at(problems, 37, "feature channel_ecom is listed twice");
        // the file's list no longer is the model's: said where, in the model's terms
        at(problems, 54, "first difference at position 4", "the model has 'channel_atm'");
        assertThat(problems).hasSize(2);
    }

    @Test
    void anInvalidFeatureName() throws Exception {
        List<Problem> problems = problems(edit("  - amount_log:", "  - amount-log:"));
        at(problems, 34, "feature name 'amount-log' cannot be used in expressions");
        at(problems, 54, "first difference at position 1", "the model has 'amount_log'");
        assertThat(problems).hasSize(2);
    }

    @Test
    void featuresThatAreNotAList() throws Exception {
        one(
                problems(
                        YAML.substring(0, YAML.indexOf("features:\n"))
                                + "features: amount_log\nmodel: bundled:gbdt\n"
                                + YAML.substring(YAML.indexOf("output:\n"))),
                33,
                "features must be a list");
    }

    // ------------------------------------------------------------------ aggregates

    @Test
    void aWindowThatIsNotADuration() throws Exception {
        Problem p =
                one(
                        problems(
                                edit(
                                        "count_1h:       {count: true, window: 1h}",
                                        "count_1h:       {count: true, window: 1 hour}")),
                        22,
                        "aggregate count_1h: window '1 hour' is not a duration");
        assertThat(p.fix()).contains("10m, 1h");
    }

    @Test
    void aWindowOutOfRange() throws Exception {
        one(
                problems(
                        edit(
                                "count_1h:       {count: true, window: 1h}",
                                "count_1h:       {count: true, window: 3651d}")),
                22,
                "aggregate count_1h: window '3651d' is out of range");
        one(
                problems(
                        edit(
                                "count_1h:       {count: true, window: 1h}",
                                "count_1h:       {count: true, window: 0s}")),
                22,
                "window '0s' is out of range");
        one(
                problems(
                        edit(
                                "count_1h:       {count: true, window: 1h}",
                                "count_1h:       {count: true, window: 99999999999999999999999h}")),
                22,
                "window '99999999999999999999999h' is out of range");
    }

    @Test
    void anAggregateWithTwoKinds() throws Exception {
        Problem p =
                one(
                        problems(
                                edit(
                                        "sum_1h:         {sum: amount_minor, window: 1h}",
                                        "sum_1h:         {sum: amount_minor, avg: amount_minor,"
                                                + " window: 1h}")),
                        24,
                        "aggregate sum_1h has two kinds: sum and avg");
        assertThat(p.fix()).contains("one of count, sum");
    }

    @Test
    void anAggregateWithNoKind() throws Exception {
        // seen is read by five features: still one problem
        Problem p =
                one(
                        problems(
                                edit(
                                        "seen:           {count: true}",
                                        "seen:           {window: 1h}")),
                        32,
                        "aggregate seen says nothing to compute");
        assertThat(p.fix()).contains("count: true");
    }

    @Test
    void anAggregateThatIsNotAMapping() throws Exception {
        one(
                problems(edit("seen:           {count: true}", "seen:           count")),
                32,
                "aggregate seen must be a mapping");
    }

    @Test
    void anAggregateWithAnUnknownOption() throws Exception {
        one(
                problems(
                        edit(
                                "count_1h:       {count: true, window: 1h}",
                                "count_1h:       {count: true, windw: 1h}")),
                22,
                "aggregate count_1h: unknown key 'windw'");
    }

    @Test
    void countFive() throws Exception {
        Problem p =
                one(
                        problems(
                                edit(
                                        "count_1h:       {count: true, window: 1h}",
                                        "count_1h:       {count: 5, window: 1h}")),
                        22,
                        "aggregate count_1h: count takes true, found '5'");
        assertThat(p.fix()).contains("count: true");
    }

    @Test
    void sumOverAString() throws Exception {
        Problem p =
                one(
                        problems(
                                edit(
                                        "sum_1h:         {sum: amount_minor, window: 1h}",
                                        "sum_1h:         {sum: country, window: 1h}")),
                        24,
                        "aggregate sum_1h: sum needs a number, 'country' is string");
        assertThat(p.fix()).contains("double(amount_minor)");
    }

    @Test
    void anAggregateValueWithAnUnknownField() throws Exception {
        Problem p =
                one(
                        problems(
                                edit(
                                        "sum_1h:         {sum: amount_minor, window: 1h}",
                                        "sum_1h:         {sum: amount, window: 1h}")),
                        24,
                        "aggregate sum_1h sum",
                        "undeclared reference to 'amount'");
        // an aggregate's value sees the event's fields, not the other aggregates
        assertThat(p.fix()).contains("amount_minor").doesNotContain("count_1h");
    }

    @Test
    void aWhereThatIsNotBool() throws Exception {
        one(
                problems(
                        edit(
                                "where: channel == \"ECOM\" && amount_minor < 500}",
                                "where: amount_minor}")),
                26,
                "aggregate small_ecom_1h: where is int, not bool");
    }

    @Test
    void aDefaultOfTheWrongType() throws Exception {
        Problem p =
                one(
                        problems(
                                edit(
                                        "prev_time:      {last: event_time, default: 0}",
                                        "prev_time:      {last: event_time, default: \"never\"}")),
                        28,
                        "aggregate prev_time: default 'never' is not an int");
        assertThat(p.fix()).contains("default: 0");
        Problem q =
                one(
                        problems(
                                edit(
                                        "prev_country:   {last: country, default: \"\"}",
                                        "prev_country:   {last: country, default: 0}")),
                        29,
                        "aggregate prev_country: default '0' is not a string");
        assertThat(q.fix()).contains("quote it");
        one(
                problems(
                        edit(
                                "avg_amount:     {avg: amount_minor, default: 0.0}",
                                "avg_amount:     {avg: amount_minor, default: none}")),
                31,
                "aggregate avg_amount: default 'none' is not a double");
    }

    @Test
    void aDefaultOnACount() throws Exception {
        Problem p =
                one(
                        problems(
                                edit(
                                        "seen:           {count: true}",
                                        "seen:           {count: true, default: 0}")),
                        32,
                        "aggregate seen: count has no default");
        assertThat(p.fix()).contains("remove default");
    }

    @Test
    void anAggregateNamedLikeAnEventField() throws Exception {
        one(
                problems(insertAfter(32, "  amount_minor:   {count: true}")),
                33,
                "aggregate 'amount_minor' has the name of an event field");
    }

    @Test
    void aReservedAggregateName() throws Exception {
        Problem p =
                one(
                        problems(insertAfter(32, "  in:   {count: true}")),
                        33,
                        "aggregate name 'in' cannot be used in expressions");
        assertThat(p.fix()).contains("CEL keyword");
        one(
                problems(insertAfter(32, "  2fast:   {count: true}")),
                33,
                "aggregate name '2fast' cannot be used in expressions");
    }

    @Test
    void anAggregateGivenTwice() throws Exception {
        one(
                problems(insertAfter(32, "  seen:   {count: true, window: 1h}")),
                33,
                "'seen' is given twice in aggregates");
    }

    // ------------------------------------------------------------------ model

    @Test
    void aModelWhoseFeaturesDiffer() throws Exception {
        String yaml =
                edit(
                        "  - txn_count_1h: double(count_1h)\n"
                                + "  - txn_count_24h: double(count_24h)\n",
                        "  - txn_count_24h: double(count_24h)\n"
                                + "  - txn_count_1h: double(count_1h)\n");
        Problem p =
                one(
                        problems(yaml),
                        54,
                        "first difference at position 8",
                        "the model has 'txn_count_1h', the file 'txn_count_24h'");
        assertThat(p.fix()).contains("model's features");
    }

    @Test
    void aModelWithFewerFeaturesThanTheFile() throws Exception {
        one(
                problems(insertAfter(53, "  - extra: 1.0")),
                55,
                "first difference at position 19",
                "the model has no more, the file 'extra'");
    }

    /** The payouts example, its model a folder: two features swapped. */
    @Test
    void aFolderModelWhoseFeaturesDiffer() throws Exception {
        Path payouts = ROOT.resolve("pipelines/examples/payouts");
        Files.copy(payouts.resolve("Payout.avsc"), dir.resolve("Payout.avsc"));
        String yaml =
                edit(
                        read(payouts.resolve("payouts.yaml")),
                        "  - instant: 'method == \"INSTANT\" ? 1.0 : 0.0'\n"
                            + "  - account_changed: 'seen > 0 && bank_account_id != prev_account ?"
                            + " 1.0 : 0.0'\n",
                        "  - account_changed: 'seen > 0 && bank_account_id != prev_account ? 1.0 :"
                                + " 0.0'\n"
                                + "  - instant: 'method == \"INSTANT\" ? 1.0 : 0.0'\n");
        yaml = edit(yaml, "model: model ", "model: " + payouts.resolve("model") + " ");
        Path file = dir.resolve("payouts.yaml");
        Files.writeString(file, yaml);
        try {
            Pipeline.load(file.toString(), null, true);
            fail("loaded");
        } catch (PipelineException e) {
            one(
                    e.problems(),
                    46,
                    "model payouts-logreg",
                    "takes 14 features",
                    "first difference at position 5: the model has 'instant', the file"
                            + " 'account_changed'");
        }
        // and a folder without a descriptor
        Files.writeString(
                file, edit(yaml, "model: " + payouts.resolve("model") + " ", "model: . "));
        try {
            Pipeline.load(file.toString(), null, true);
            fail("loaded");
        } catch (PipelineException e) {
            one(e.problems(), 46, "cannot be read", "descriptor.json");
        }
    }

    @Test
    void aModelThatCannotBeRead() throws Exception {
        Problem p =
                one(
                        problems(edit("model: bundled:gbdt", "model: no-such-model")),
                        54,
                        "no-such-model",
                        "cannot be read");
        assertThat(p.fix()).contains("descriptor.json");
        one(
                problems(edit("model: bundled:gbdt", "model: bundled:nope")),
                54,
                "bundled:nope",
                "cannot be read");
    }

    // ------------------------------------------------------------------ output

    @Test
    void anOutputFieldNothingFills() throws Exception {
        String fraudScore =
                edit(
                        FRAUD_SCORE,
                        "{\"name\": \"score\",",
                        "{\"name\": \"region\", \"type\": \"string\"},\n    {\"name\": \"score\",");
        Problem p =
                one(
                        problems(YAML, TRANSACTION, fraudScore),
                        58,
                        "output field region",
                        "nothing fills it");
        assertThat(p.fix()).contains("default");
    }

    @Test
    void aScoringFieldOfTheWrongType() throws Exception {
        String fraudScore =
                edit(
                        FRAUD_SCORE,
                        "{\"name\": \"score\", \"type\": \"double\"",
                        "{\"name\": \"score\", \"type\": \"string\"");
        one(
                problems(YAML, TRANSACTION, fraudScore),
                58,
                "output field score",
                "the scoring's score is a double");
    }

    @Test
    void anOutputFieldCopiedFromAnInputFieldOfAnotherType() throws Exception {
        String fraudScore =
                edit(
                        FRAUD_SCORE,
                        "{\"name\": \"card_id\", \"type\": \"string\"}",
                        "{\"name\": \"card_id\", \"type\": \"long\"}");
        one(
                problems(YAML, TRANSACTION, fraudScore),
                58,
                "output field card_id",
                "the input field of that name is");
    }

    @Test
    void anOutputSchemaFileThatIsMissing() throws Exception {
        one(
                problems(edit("schema: FraudScore.avsc", "schema: Score.avsc")),
                58,
                "output.schema: cannot read 'Score.avsc'");
    }

    @Test
    void aGeneratedOutputSchemaWithAnInputFieldNamedLikeAScoringField() throws Exception {
        String transaction = edit(TRANSACTION, "{\"name\": \"card_id\"", "{\"name\": \"score\"");
        String yaml = edit(edit("key: card_id ", "key: score "), "  schema: FraudScore.avsc\n", "");
        one(
                problems(yaml, transaction, FRAUD_SCORE),
                56,
                "output: cannot make an output schema",
                "score");
    }

    // ------------------------------------------------------------------ found by fuzzing

    /** Was a NullPointerException: the generated output schema is named after the pipeline. */
    @Test
    void aNameThatIsAListWithAGeneratedOutputSchema() throws Exception {
        String yaml =
                edit(
                        edit("name: card-fraud", "name: [card, fraud]"),
                        "  schema: FraudScore.avsc\n",
                        "");
        one(problems(yaml), 4, "name must be a single value, found a list");
    }

    /** Was an InvalidPathException. */
    @Test
    void aModelPathWithANul() throws Exception {
        one(problems(edit("model: bundled:gbdt", "model: \"no\\0model\"")), 54, "is not a path");
    }

    // ------------------------------------------------------------------ several at once

    @Test
    void severalProblemsAreAllReportedInFileOrder() throws Exception {
        String yaml = YAML;
        yaml = edit(yaml, "key: card_id ", "key: card_idd ");
        yaml =
                edit(
                        yaml,
                        "    - amount_minor > 0 && amount_minor <= 1000000000000\n",
                        "    - amount_minor\n");
        yaml =
                edit(
                        yaml,
                        "count_1h:       {count: true, window: 1h}",
                        "count_1h:       {count: 5, window: 1 hour}");
        yaml =
                edit(
                        yaml,
                        "log1p(double(amount_minor) / 100.0)",
                        "log1p(double(amount_minr) / 100.0)");
        yaml = edit(yaml, "model: bundled:gbdt", "model: no-such-model");
        List<Problem> problems = problems(yaml);
        assertThat(problems).extracting(Problem::line).containsExactly(9, 15, 22, 22, 34, 54);
        at(problems, 9, "card_idd");
        at(problems, 15, "is int, not bool");
        at(problems, 22, "window '1 hour'");
        at(problems, 22, "count takes true");
        at(problems, 34, "amount_minr");
        at(problems, 54, "cannot be read");
    }
}

package dev.streamscore.pipeline;

import dev.streamscore.models.ModelArtifact;
import dev.streamscore.models.ModelDescriptor;
import dev.streamscore.pipeline.events.EventFields;
import dev.streamscore.pipeline.expr.Expressions;
import dev.streamscore.pipeline.expr.ValueType;
import dev.streamscore.pipeline.expr.Variables;
import dev.streamscore.pipeline.features.Aggregate;
import java.io.StringReader;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.avro.Schema;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * Reads a pipeline file into a {@link Pipeline}: YAML through SnakeYAML's composer (each node keeps
 * its line), then every key checked, the schemas read, every expression type-checked by CEL, and
 * (if asked) the model's features compared with the file's. It goes on after a problem, so that one
 * run of {@code pipeline check} lists them all.
 */
final class PipelineReader {

    private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    private static final Pattern DURATION = Pattern.compile("([0-9]+)(ms|s|m|h|d)");
    private static final Set<String> RESERVED =
            Set.of(
                    "in",
                    "as",
                    "break",
                    "const",
                    "continue",
                    "else",
                    "for",
                    "function",
                    "if",
                    "import",
                    "let",
                    "loop",
                    "package",
                    "namespace",
                    "return",
                    "var",
                    "void",
                    "while",
                    "true",
                    "false",
                    "null");

    private static final Set<String> TOP =
            Set.of("name", "input", "dead_letters", "aggregates", "features", "model", "output");
    private static final Set<String> INPUT =
            Set.of("topic", "format", "schema", "registry", "key", "id", "time", "checks");
    private static final Set<String> OUTPUT = Set.of("topic", "format", "schema", "registry");
    private static final Set<String> AGGREGATE_OPTIONS = Set.of("window", "where", "default");
    private static final List<String> AGGREGATE_KEYS =
            List.of(
                    "count",
                    "sum",
                    "avg",
                    "min",
                    "max",
                    "distinct",
                    "first",
                    "last",
                    "window",
                    "where",
                    "default");
    private static final Pattern UNDECLARED =
            Pattern.compile("(?s).*undeclared reference to '([^']*)'.*");

    private final PipelineDefinition def;
    private final boolean checkModel;
    private final List<Problem> problems = new ArrayList<>();
    private final Pipeline p = new Pipeline();

    /** The keys under input, read once (a key given twice is reported once). */
    private Map<String, NodeTuple> inputKeys;

    /** Aggregates with a problem whose type is unknown: not declared to the features. */
    private final Set<String> brokenAggregates = new HashSet<>();

    /**
     * Every feature's name as the file lists them, those with a problem included (what the model is
     * compared with); {@code null} if an item has no name.
     */
    private List<String> listedFeatures;

    PipelineReader(PipelineDefinition def, boolean checkModel) {
        this.def = def;
        this.checkModel = checkModel;
    }

    Pipeline read() throws PipelineException {
        p.definition = def;
        Node root = compose();
        if (root != null) {
            readAll(root);
        }
        if (!problems.isEmpty()) {
            // In file order (the parts are read in the order they depend on each other).
            problems.sort(java.util.Comparator.comparingInt(Problem::line));
            throw new PipelineException(problems);
        }
        p.definition = keptDefinition(def);
        return p;
    }

    private Node compose() {
        LoaderOptions options = new LoaderOptions();
        options.setMaxAliasesForCollections(20);
        options.setAllowRecursiveKeys(false);
        options.setNestingDepthLimit(40);
        options.setCodePointLimit(1 << 20);
        try {
            Node root = new Yaml(options).compose(new StringReader(def.yaml()));
            if (root == null) {
                problem(0, "the file is empty", "start from pipelines/card-fraud.yaml");
            }
            return root;
        } catch (MarkedYAMLException e) {
            Mark mark = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
            String problem = String.valueOf(e.getProblem());
            problem(
                    mark == null ? 0 : mark.getLine() + 1,
                    "not valid YAML: "
                            + (e.getContext() == null ? "" : e.getContext() + ", ")
                            + problem,
                    problem.contains("(TAB)")
                            ? "indent with spaces, not tabs"
                            : "quote an expression that holds ': ' or starts with a special"
                                    + " character (\"...\"), and check the indentation");
            return null;
        } catch (org.yaml.snakeyaml.reader.ReaderException e) {
            // A character YAML does not allow (a control character, say): at its line.
            String text = def.yaml();
            int at =
                    text.offsetByCodePoints(
                            0,
                            Math.max(
                                    0,
                                    Math.min(
                                            e.getPosition(),
                                            text.codePointCount(0, text.length()))));
            problem(
                    (int) text.substring(0, at).chars().filter(c -> c == '\n').count() + 1,
                    String.format(
                            "not valid YAML: the character U+%04X is not allowed",
                            e.getCodePoint()),
                    "remove the character, or write it as an escape in a \"...\" string");
            return null;
        } catch (RuntimeException e) {
            problem(0, "not valid YAML: " + e.getMessage(), "check the file is YAML");
            return null;
        }
    }

    private void readAll(Node root) {
        Map<String, NodeTuple> top = mapping(root, "the file");
        if (top == null) {
            return;
        }
        unknownKeys(top, TOP, "at the top level");
        p.name = requiredScalar(top, "name", root, "the file");
        if (p.name != null && !p.name.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,99}")) {
            problem(
                    line(top.get("name").getValueNode()),
                    "name '" + p.name + "' is not a name",
                    "use letters, digits, '.', '_' and '-' (it names the job)");
        }
        readInput(top, root);
        readDeadLetters(top);
        Variables eventVars = new Variables();
        EventFields fields =
                p.inputSchema == null ? null : new EventFields(p.inputSchema, eventVars);
        Variables all = new Variables();
        if (p.inputSchema != null) {
            new EventFields(p.inputSchema, all);
        }
        if (fields != null) {
            readChecks(top, eventVars);
            readKeyFields(top, fields);
        }
        readAggregates(top, eventVars, all, fields != null);
        readFeatures(top, root, all, fields != null);
        readModel(top, root);
        readOutput(top, root);
    }

    // ------------------------------------------------------------------ input

    private void readInput(Map<String, NodeTuple> top, Node root) {
        Node input = required(top, "input", root, "the file");
        Map<String, NodeTuple> in = input == null ? null : mapping(input, "input");
        if (in == null) {
            return;
        }
        inputKeys = in;
        unknownKeys(in, INPUT, "under input");
        p.inputTopic = requiredScalar(in, "topic", input, "input");
        p.inputFormat = format(in, "input");
        p.registry = optionalScalar(in, "registry");
        if (p.inputFormat == Pipeline.Format.CONFLUENT_AVRO) {
            problem(
                    line(in.get("format").getValueNode()),
                    "input.format confluent-avro (Confluent Schema Registry) is not available in"
                            + " this version",
                    "use avro (single-object encoding) or json");
        }
        String schema = requiredScalar(in, "schema", input, "input");
        if (schema != null) {
            p.inputSchema = schema(schema, line(in.get("schema").getValueNode()), "input.schema");
        }
    }

    private Pipeline.Format format(Map<String, NodeTuple> map, String where) {
        NodeTuple t = map.get("format");
        if (t == null) {
            return Pipeline.Format.AVRO;
        }
        String value = scalar(t.getValueNode(), where + ".format");
        if (value == null) {
            return Pipeline.Format.AVRO;
        }
        Pipeline.Format f = Pipeline.Format.of(value);
        if (f == null) {
            problem(
                    line(t.getValueNode()),
                    where + ".format '" + value + "' is not a format",
                    "use avro (single-object encoding) or json");
            return Pipeline.Format.AVRO;
        }
        return f;
    }

    private Schema schema(String name, int line, String where) {
        String text;
        try {
            text = def.readRelative(name);
        } catch (java.nio.file.NoSuchFileException e) {
            problem(
                    line,
                    where + ": cannot read '" + name + "': no such file (" + e.getMessage() + ")",
                    "give an .avsc file, relative to the pipeline file");
            return null;
        } catch (Exception e) {
            problem(
                    line,
                    where + ": cannot read '" + name + "': " + e,
                    "give an .avsc file, relative to the pipeline file");
            return null;
        }
        Schema s;
        try {
            s = new Schema.Parser().parse(text);
        } catch (RuntimeException e) {
            problem(
                    line,
                    where + ": '" + name + "' is not an Avro schema: " + e.getMessage(),
                    "an .avsc file holds one Avro record schema in JSON");
            return null;
        }
        if (s.getType() != Schema.Type.RECORD) {
            problem(
                    line,
                    where
                            + ": '"
                            + name
                            + "' is "
                            + article(s.getType().getName())
                            + ", not a record",
                    "events are Avro records");
            return null;
        }
        String recursive = recursiveRecord(s, new java.util.HashSet<>());
        if (recursive != null) {
            problem(
                    line,
                    where
                            + ": '"
                            + name
                            + "' has a record that contains itself ("
                            + recursive
                            + ")",
                    "events are records without recursion: a record as deep as its bytes claim"
                            + " would exhaust the reader");
            return null;
        }
        keepFile(name, text);
        return s;
    }

    /** The full name of a record type that contains itself, or null. */
    private static String recursiveRecord(Schema s, java.util.Set<String> open) {
        switch (s.getType()) {
            case RECORD:
                if (!open.add(s.getFullName())) {
                    return s.getFullName();
                }
                for (Schema.Field f : s.getFields()) {
                    String r = recursiveRecord(f.schema(), open);
                    if (r != null) {
                        return r;
                    }
                }
                open.remove(s.getFullName());
                return null;
            case ARRAY:
                return recursiveRecord(s.getElementType(), open);
            case MAP:
                return recursiveRecord(s.getValueType(), open);
            case UNION:
                for (Schema b : s.getTypes()) {
                    String r = recursiveRecord(b, open);
                    if (r != null) {
                        return r;
                    }
                }
                return null;
            default:
                return null;
        }
    }

    private void keepFile(String name, String text) {
        if (!def.files().containsKey(name)) {
            // Kept with the definition, so TaskManagers need not read it.
            pendingFiles.put(name, text);
        }
    }

    private final Map<String, String> pendingFiles = new LinkedHashMap<>();

    private void readKeyFields(Map<String, NodeTuple> top, EventFields fields) {
        NodeTuple inputTuple = top.get("input");
        Map<String, NodeTuple> in = inputKeys;
        p.keyField = field(in, "key", inputTuple.getValueNode(), fields, false);
        p.idField = field(in, "id", inputTuple.getValueNode(), fields, false);
        p.timeField = field(in, "time", inputTuple.getValueNode(), fields, true);
    }

    private String field(
            Map<String, NodeTuple> in, String key, Node input, EventFields fields, boolean time) {
        String name = requiredScalar(in, key, input, "input");
        if (name == null) {
            return null;
        }
        int line = line(in.get(key).getValueNode());
        Schema.Field f = p.inputSchema.getField(name);
        if (f == null) {
            problem(
                    line,
                    "input." + key + ": the schema has no field '" + name + "'",
                    hintField(name, fieldNames(p.inputSchema)));
            return name;
        }
        Schema s = nonNull(f.schema());
        if (time) {
            if (s == null || !EventFields.isMillis(s)) {
                problem(
                        line,
                        "input.time: field '"
                                + name
                                + "' is "
                                + describe(f.schema())
                                + ", not a time",
                        "name a long field of milliseconds since 1970 (logicalType"
                                + " timestamp-millis)");
            }
        } else if (s == null
                || !(s.getType() == Schema.Type.STRING
                        || s.getType() == Schema.Type.LONG
                        || s.getType() == Schema.Type.INT)) {
            problem(
                    line,
                    "input." + key + ": field '" + name + "' is " + describe(f.schema()),
                    "name a string (or int/long) field");
        }
        return name;
    }

    private static Schema nonNull(Schema s) {
        if (s.getType() != Schema.Type.UNION) {
            return s;
        }
        List<Schema> types = s.getTypes();
        if (types.size() == 2) {
            if (types.get(0).getType() == Schema.Type.NULL) {
                return types.get(1);
            }
            if (types.get(1).getType() == Schema.Type.NULL) {
                return types.get(0);
            }
        }
        return null;
    }

    private static String describe(Schema s) {
        return "of type " + s.toString();
    }

    private void readChecks(Map<String, NodeTuple> top, Variables eventVars) {
        NodeTuple checks = inputKeys.get("checks");
        if (checks == null || isNull(checks.getValueNode())) {
            return;
        }
        if (!(checks.getValueNode() instanceof SequenceNode seq)) {
            problem(
                    line(checks.getValueNode()),
                    "input.checks must be a list of expressions",
                    "write each check as a list item: '- amount_minor > 0'");
            return;
        }
        Expressions expressions = new Expressions(eventVars);
        for (Node n : seq.getValue()) {
            String source = scalar(n, "a check");
            if (source == null) {
                continue;
            }
            Expressions.Checked c = expressions.check(source);
            if (!c.ok()) {
                celProblem(n, "check '" + source + "'", c.error(), eventVars, null);
            } else if (c.type() != ValueType.BOOL) {
                problem(
                        line(n),
                        "check '" + source + "' is " + c.type().celName() + ", not bool",
                        "a check is a condition every valid event meets, e.g. amount_minor > 0");
            } else {
                p.checks.add(source);
            }
        }
    }

    private void readDeadLetters(Map<String, NodeTuple> top) {
        NodeTuple t = top.get("dead_letters");
        String topic = null;
        if (t != null && !isNull(t.getValueNode())) {
            Map<String, NodeTuple> dl = mapping(t.getValueNode(), "dead_letters");
            if (dl != null) {
                unknownKeys(dl, Set.of("topic"), "under dead_letters");
                topic = optionalScalar(dl, "topic");
            }
        }
        p.deadLetterTopicGiven = topic != null;
        p.deadLetterTopic =
                topic != null ? topic : p.inputTopic == null ? null : p.inputTopic + "-dead-letter";
    }

    // ------------------------------------------------------------------ aggregates

    private void readAggregates(
            Map<String, NodeTuple> top, Variables eventVars, Variables all, boolean schemaOk) {
        NodeTuple t = top.get("aggregates");
        if (t == null || isNull(t.getValueNode())) {
            return;
        }
        Map<String, NodeTuple> aggs = mapping(t.getValueNode(), "aggregates");
        if (aggs == null) {
            return;
        }
        Expressions expressions = schemaOk ? new Expressions(eventVars) : null;
        for (Map.Entry<String, NodeTuple> e : aggs.entrySet()) {
            String name = e.getKey();
            Node keyNode = e.getValue().getKeyNode();
            Node body = e.getValue().getValueNode();
            int line = line(keyNode);
            if (!identifier(name, line, "aggregate")) {
                continue;
            }
            if (schemaOk && p.inputSchema.getField(name) != null) {
                problem(
                        line,
                        "aggregate '" + name + "' has the name of an event field",
                        "give it another name: features see both");
                continue;
            }
            Map<String, NodeTuple> opts = mapping(body, "aggregate " + name);
            if (opts == null) {
                brokenAggregates.add(name);
                continue;
            }
            // After a problem, go on to the aggregate's other keys (one run reports them all),
            // and declare the aggregate if its type is known, so that the features that read it
            // are still checked and not each reported as naming an unknown variable.
            boolean ok = true;
            Aggregate.Kind kind = null;
            Node kindNode = null;
            for (Map.Entry<String, NodeTuple> o : opts.entrySet()) {
                Aggregate.Kind k = kindOf(o.getKey());
                if (k != null) {
                    if (kind != null) {
                        problem(
                                line(o.getValue().getKeyNode()),
                                "aggregate "
                                        + name
                                        + " has two kinds: "
                                        + kind.key()
                                        + " and "
                                        + k.key(),
                                "one of count, sum, avg, min, max, distinct, first, last each");
                        ok = false;
                        continue;
                    }
                    kind = k;
                    kindNode = o.getValue().getValueNode();
                } else if (!AGGREGATE_OPTIONS.contains(o.getKey())) {
                    problem(
                            line(o.getValue().getKeyNode()),
                            "aggregate " + name + ": unknown key '" + o.getKey() + "'",
                            hintField(o.getKey(), AGGREGATE_KEYS));
                    ok = false;
                }
            }
            if (kind == null) {
                problem(
                        line,
                        "aggregate " + name + " says nothing to compute",
                        "add one of: count: true, sum: <expr>, avg: <expr>, min: <expr>, max:"
                                + " <expr>, distinct: <expr>, first: <expr>, last: <expr>");
                brokenAggregates.add(name);
                continue;
            }
            long window = 0;
            if (opts.containsKey("window")) {
                Node w = opts.get("window").getValueNode();
                window = duration(scalar(w, "aggregate " + name + " window"), line(w), name);
                if (window < 0) {
                    ok = false;
                    window = 0;
                }
            }
            String where = null;
            if (opts.containsKey("where")) {
                Node w = opts.get("where").getValueNode();
                where = scalar(w, "aggregate " + name + " where");
                if (where == null) {
                    ok = false;
                } else if (expressions != null) {
                    Expressions.Checked c = expressions.check(where);
                    if (!c.ok()) {
                        celProblem(w, "aggregate " + name + " where", c.error(), eventVars, null);
                        ok = false;
                    } else if (c.type() != ValueType.BOOL) {
                        problem(
                                line(w),
                                "aggregate "
                                        + name
                                        + ": where is "
                                        + c.type().celName()
                                        + ", not bool",
                                "a condition, e.g. channel == \"ECOM\"");
                        ok = false;
                    }
                }
            }
            String value = null;
            ValueType valueType = null;
            if (kind == Aggregate.Kind.COUNT) {
                String v = scalar(kindNode, "count");
                if (v == null) {
                    ok = false;
                } else if (!(kindNode instanceof ScalarNode s
                        && s.getTag() == Tag.BOOL
                        && v.equalsIgnoreCase("true"))) {
                    problem(
                            line(kindNode),
                            "aggregate " + name + ": count takes true, found '" + v + "'",
                            "count: true (with where: to count only some events)");
                    ok = false;
                }
            } else {
                value = scalar(kindNode, "aggregate " + name + " " + kind.key());
                if (value == null) {
                    ok = false;
                } else if (expressions != null) {
                    Expressions.Checked c = expressions.check(value);
                    if (!c.ok()) {
                        celProblem(
                                kindNode,
                                "aggregate " + name + " " + kind.key(),
                                c.error(),
                                eventVars,
                                null);
                        ok = false;
                    } else {
                        valueType = c.type();
                        boolean numeric =
                                valueType == ValueType.INT || valueType == ValueType.DOUBLE;
                        if (!numeric
                                && (kind == Aggregate.Kind.SUM
                                        || kind == Aggregate.Kind.AVG
                                        || kind == Aggregate.Kind.MIN
                                        || kind == Aggregate.Kind.MAX)) {
                            problem(
                                    line(kindNode),
                                    "aggregate "
                                            + name
                                            + ": "
                                            + kind.key()
                                            + " needs a number, '"
                                            + value
                                            + "' is "
                                            + valueType.celName(),
                                    "a numeric expression, e.g. double(amount_minor) / 100.0");
                            ok = false;
                        }
                    }
                }
            }
            if (expressions == null) {
                continue;
            }
            ValueType type =
                    switch (kind) {
                        case COUNT, DISTINCT -> ValueType.INT;
                        case SUM, AVG, MIN, MAX -> ValueType.DOUBLE;
                        case FIRST, LAST -> valueType;
                    };
            Object dflt = type == null ? null : zero(type);
            if (opts.containsKey("default")) {
                Node d = opts.get("default").getValueNode();
                if (!kind.needsDefault()) {
                    problem(
                            line(d),
                            "aggregate "
                                    + name
                                    + ": "
                                    + kind.key()
                                    + " has no default (it is 0 over no events)",
                            "remove default");
                    ok = false;
                } else if (type != null) {
                    dflt = defaultValue(d, type, name);
                    if (dflt == null) {
                        ok = false;
                    }
                }
            }
            if (type == null) {
                brokenAggregates.add(name);
                continue;
            }
            if (ok) {
                p.aggregates.add(
                        new Pipeline.AggregateSpec(
                                name, kind, value, where, window, dflt, type, valueType));
            }
            all.add(name, type, false);
        }
    }

    private static Aggregate.Kind kindOf(String key) {
        for (Aggregate.Kind k : Aggregate.Kind.values()) {
            if (k.key().equals(key)) {
                return k;
            }
        }
        return null;
    }

    private static Object zero(ValueType type) {
        return switch (type) {
            case BOOL -> Boolean.FALSE;
            case INT -> 0L;
            case DOUBLE -> 0.0;
            case STRING -> "";
        };
    }

    private Object defaultValue(Node d, ValueType type, String name) {
        if (!(d instanceof ScalarNode s)) {
            problem(
                    line(d),
                    "aggregate " + name + ": default must be a value",
                    "write " + article(type.celName()) + ", e.g. default: " + zero(type));
            return null;
        }
        String v = s.getValue();
        Tag tag = s.getTag();
        try {
            switch (type) {
                case DOUBLE:
                    if (tag == Tag.INT || tag == Tag.FLOAT) {
                        return Double.parseDouble(v.replace("_", ""));
                    }
                    break;
                case INT:
                    if (tag == Tag.INT) {
                        return Long.parseLong(v.replace("_", ""));
                    }
                    break;
                case BOOL:
                    // YAML 1.1 takes yes, no, on and off for booleans too: only true and false
                    // here.
                    if (tag == Tag.BOOL && (v.equals("true") || v.equals("false"))) {
                        return Boolean.parseBoolean(v);
                    }
                    break;
                case STRING:
                    if (tag == Tag.STR) {
                        return v;
                    }
                    break;
            }
        } catch (NumberFormatException e) {
            // below
        }
        problem(
                line(d),
                "aggregate "
                        + name
                        + ": default '"
                        + v
                        + "' is not "
                        + article(type.celName())
                        + ", the type of its value",
                type == ValueType.STRING
                        ? "quote it: default: \"" + v + "\""
                        : "write " + article(type.celName()) + ", e.g. default: " + zero(type));
        return null;
    }

    /** Milliseconds of a window such as 10m, 1h, 7d; -1 after a problem. */
    private long duration(String text, int line, String aggregate) {
        if (text == null) {
            return -1;
        }
        Matcher m = DURATION.matcher(text.trim());
        if (!m.matches()) {
            problem(
                    line,
                    "aggregate " + aggregate + ": window '" + text + "' is not a duration",
                    "a whole number and a unit (ms, s, m, h, d), e.g. 10m, 1h, 24h, 7d");
            return -1;
        }
        String digits = m.group(1).replaceFirst("^0+(?=.)", "");
        long n = digits.length() > 12 ? Long.MAX_VALUE : Long.parseLong(digits);
        long unit =
                switch (m.group(2)) {
                    case "ms" -> 1L;
                    case "s" -> 1000L;
                    case "m" -> 60_000L;
                    case "h" -> 3_600_000L;
                    default -> 86_400_000L;
                };
        long max = 3650L * 86_400_000L;
        if (n <= 0 || n > max / unit) {
            problem(
                    line,
                    "aggregate " + aggregate + ": window '" + text + "' is out of range",
                    "a window of at least 1ms and at most 3650d; without a window the aggregate"
                            + " covers the key's whole remembered history");
            return -1;
        }
        return n * unit;
    }

    // ------------------------------------------------------------------ features

    private void readFeatures(
            Map<String, NodeTuple> top, Node root, Variables all, boolean schemaOk) {
        Node list = required(top, "features", root, "the file");
        if (list == null) {
            return;
        }
        if (!(list instanceof SequenceNode seq)) {
            problem(
                    line(list),
                    "features must be a list, in the model's input order",
                    "write each feature as a list item: '- amount_log: log1p(double(amount_minor)"
                            + " / 100.0)'");
            return;
        }
        if (seq.getValue().isEmpty()) {
            problem(line(list), "features is empty", "list the model's input features, in order");
            return;
        }
        Expressions expressions = schemaOk ? new Expressions(all) : null;
        Set<String> names = new HashSet<>();
        listedFeatures = new ArrayList<>();
        for (Node item : seq.getValue()) {
            if (!(item instanceof MappingNode m) || m.getValue().size() != 1) {
                problem(
                        line(item),
                        "a feature must be one 'name: expression' pair",
                        "write '- amount_log: log1p(double(amount_minor) / 100.0)'");
                listedFeatures = null;
                continue;
            }
            NodeTuple t = m.getValue().get(0);
            String name = scalar(t.getKeyNode(), "a feature name");
            if (name == null) {
                listedFeatures = null;
            } else if (listedFeatures != null) {
                listedFeatures.add(name);
            }
            String expr = scalar(t.getValueNode(), "feature " + name);
            if (name == null || expr == null) {
                continue;
            }
            int line = line(t.getKeyNode());
            if (!identifier(name, line, "feature")) {
                continue;
            }
            if (!names.add(name)) {
                problem(
                        line,
                        "feature " + name + " is listed twice",
                        "give each feature its own name");
                continue;
            }
            if (expressions != null) {
                Expressions.Checked c = expressions.check(expr);
                if (!c.ok()) {
                    if (!onlyBrokenAggregates(c.error())) {
                        celProblem(t.getValueNode(), "feature " + name, c.error(), all, null);
                    }
                    continue;
                }
                if (c.type() == ValueType.STRING) {
                    problem(
                            line(t.getValueNode()),
                            "feature " + name + " is a string, not a number",
                            "a feature is a number (a bool counts as 1.0 or 0.0), e.g."
                                    + " channel == \"ECOM\" ? 1.0 : 0.0");
                    continue;
                }
            }
            p.features.add(new Pipeline.FeatureSpec(name, expr));
        }
    }

    /**
     * Whether a CEL error says only that the expression names aggregates that have a problem of
     * their own (reported where they are declared).
     */
    private boolean onlyBrokenAggregates(String error) {
        if (brokenAggregates.isEmpty()) {
            return false;
        }
        for (String issue : error.split("; ")) {
            Matcher m = UNDECLARED.matcher(issue);
            if (!m.matches() || !brokenAggregates.contains(m.group(1))) {
                return false;
            }
        }
        return true;
    }

    // ------------------------------------------------------------------ model

    private void readModel(Map<String, NodeTuple> top, Node root) {
        String model = def.modelOverride();
        int line = 0;
        if (model == null) {
            model = requiredScalar(top, "model", root, "the file");
            if (model == null) {
                return;
            }
            line = line(top.get("model").getValueNode());
            if (!model.startsWith(ModelArtifact.BUNDLED)) {
                java.nio.file.Path path;
                try {
                    path = def.resolve(model);
                } catch (RuntimeException e) { // InvalidPathException: a NUL, say
                    problem(
                            line,
                            "model '" + model + "' is not a path: " + e.getMessage(),
                            "bundled:<id>, or a folder holding descriptor.json (relative to this"
                                    + " file)");
                    return;
                }
                if (def.baseDirectory() == null && !path.isAbsolute()) {
                    problem(
                            line,
                            "model '" + model + "': a bundled pipeline names a bundled model",
                            "bundled:gbdt, bundled:mlp or bundled:deep");
                    return;
                }
                model = path.toAbsolutePath().normalize().toString();
            }
        } else if (top.containsKey("model")) {
            line = line(top.get("model").getValueNode());
        }
        p.model = model;
        if (!checkModel) {
            return;
        }
        ModelDescriptor d;
        try {
            d = ModelArtifact.load(model).descriptor();
        } catch (RuntimeException e) {
            problem(
                    line,
                    "model '" + model + "' cannot be read: " + e.getMessage(),
                    "bundled:<id>, or a folder holding descriptor.json (relative to this file)");
            return;
        }
        p.modelDescriptor = d;
        List<String> mine = listedFeatures;
        if (mine == null || mine.isEmpty()) {
            return;
        }
        if (!d.features().equals(mine)) {
            int i = 0;
            while (i < Math.min(mine.size(), d.features().size())
                    && mine.get(i).equals(d.features().get(i))) {
                i++;
            }
            problem(
                    line,
                    "model "
                            + d.id()
                            + " takes "
                            + d.features().size()
                            + " features "
                            + d.features()
                            + "; this file computes "
                            + mine.size()
                            + " "
                            + mine
                            + " (first difference at position "
                            + (i + 1)
                            + ": the model has "
                            + (i < d.features().size()
                                    ? "'" + d.features().get(i) + "'"
                                    : "no more")
                            + ", the file "
                            + (i < mine.size() ? "'" + mine.get(i) + "'" : "no more")
                            + ")",
                    "list the model's features in its order under features:, or train a model on"
                            + " this file's features (streamscore pipeline features)");
        }
    }

    // ------------------------------------------------------------------ output

    private void readOutput(Map<String, NodeTuple> top, Node root) {
        Node output = required(top, "output", root, "the file");
        Map<String, NodeTuple> out = output == null ? null : mapping(output, "output");
        if (out == null) {
            return;
        }
        unknownKeys(out, OUTPUT, "under output");
        p.outputTopic = requiredScalar(out, "topic", output, "output");
        p.outputFormat = format(out, "output");
        if (p.outputFormat == Pipeline.Format.CONFLUENT_AVRO) {
            problem(
                    line(out.get("format").getValueNode()),
                    "output.format confluent-avro (Confluent Schema Registry) is not available in"
                            + " this version",
                    "use avro (single-object encoding) or json");
        }
        String schema = optionalScalar(out, "schema");
        if (p.inputSchema == null
                || p.idField == null
                || p.keyField == null
                || p.timeField == null) {
            return;
        }
        if (p.inputSchema.getField(p.idField) == null
                || p.inputSchema.getField(p.keyField) == null
                || p.inputSchema.getField(p.timeField) == null) {
            return;
        }
        if (schema == null) {
            try {
                p.outputSchema =
                        OutputFields.generated(
                                p.name == null ? "pipeline" : p.name,
                                p.inputSchema,
                                p.idField,
                                p.keyField,
                                p.timeField);
            } catch (RuntimeException e) { // an input field named as one of the scoring's
                problem(
                        line(output),
                        "output: cannot make an output schema: " + e.getMessage(),
                        "give output.schema, or rename the input's id, key or time field (the"
                                + " scoring's fields are "
                                + OutputFields.SCORING
                                + ")");
                return;
            }
            p.outputSchemaGenerated = true;
            return;
        }
        int line = line(out.get("schema").getValueNode());
        Schema s = schema(schema, line, "output.schema");
        if (s == null) {
            return;
        }
        for (String unfilled : OutputFields.unfilled(s, p.inputSchema)) {
            problem(
                    line,
                    "output field " + unfilled,
                    "give the field a default, or name an input field or one of the scoring's: "
                            + OutputFields.SCORING);
        }
        p.outputSchema = s;
    }

    // ------------------------------------------------------------------ YAML helpers

    private Map<String, NodeTuple> mapping(Node node, String what) {
        if (!(node instanceof MappingNode m)) {
            problem(
                    line(node),
                    what + " must be a mapping of keys to values, found " + kind(node),
                    "write 'key: value' lines indented under it, or {key: value, ...}");
            return null;
        }
        Map<String, NodeTuple> map = new LinkedHashMap<>();
        for (NodeTuple t : m.getValue()) {
            if (!(t.getKeyNode() instanceof ScalarNode k)) {
                problem(
                        line(t.getKeyNode()),
                        "a key in " + what + " is not a name",
                        "keys are plain names, such as topic or window");
                continue;
            }
            if (map.put(k.getValue(), t) != null) {
                problem(
                        line(k),
                        "'" + k.getValue() + "' is given twice in " + what,
                        "keep one of them");
            }
        }
        return map;
    }

    private static String kind(Node node) {
        if (node instanceof ScalarNode s) {
            return isNull(node) ? "nothing" : "'" + s.getValue() + "'";
        }
        return node instanceof SequenceNode ? "a list" : "something else";
    }

    private static boolean isNull(Node node) {
        return node instanceof ScalarNode s && s.getTag() == Tag.NULL;
    }

    private void unknownKeys(Map<String, NodeTuple> map, Set<String> known, String where) {
        for (Map.Entry<String, NodeTuple> e : map.entrySet()) {
            if (!known.contains(e.getKey())) {
                problem(
                        line(e.getValue().getKeyNode()),
                        "unknown key '" + e.getKey() + "' " + where,
                        hintField(e.getKey(), known.stream().sorted().toList()));
            }
        }
    }

    private Node required(Map<String, NodeTuple> map, String key, Node parent, String where) {
        NodeTuple t = map.get(key);
        if (t == null || isNull(t.getValueNode())) {
            problem(
                    t != null ? line(t.getKeyNode()) : where.equals("the file") ? 0 : line(parent),
                    where + " needs '" + key + "'",
                    "see docs/pipelines.md for every key");
            return null;
        }
        return t.getValueNode();
    }

    private String requiredScalar(
            Map<String, NodeTuple> map, String key, Node parent, String where) {
        Node n = required(map, key, parent, where);
        return n == null ? null : scalar(n, (where.equals("the file") ? "" : where + ".") + key);
    }

    private String optionalScalar(Map<String, NodeTuple> map, String key) {
        NodeTuple t = map.get(key);
        if (t == null || isNull(t.getValueNode())) {
            return null;
        }
        return scalar(t.getValueNode(), key);
    }

    private String scalar(Node node, String what) {
        if (!(node instanceof ScalarNode s) || isNull(node)) {
            problem(
                    line(node),
                    what + " must be a single value, found " + kind(node),
                    "one value after the key, quoted if it starts with [, {, *, &, ! or %");
            return null;
        }
        if (s.getValue().isBlank()) {
            problem(line(node), what + " is empty", "give it a value");
            return null;
        }
        return s.getValue();
    }

    private boolean identifier(String name, int line, String what) {
        if (!IDENTIFIER.matcher(name).matches() || RESERVED.contains(name)) {
            problem(
                    line,
                    what + " name '" + name + "' cannot be used in expressions",
                    "letters, digits and '_', not starting with a digit, not a CEL keyword");
            return false;
        }
        return true;
    }

    private void celProblem(Node node, String what, String error, Variables vars, String fix) {
        String hint = fix;
        error = error.replace(" (in container '')", "");
        if (hint == null) {
            Matcher undeclared = UNDECLARED.matcher(error);
            if (undeclared.matches()) {
                String hintName = hintField(undeclared.group(1), List.copyOf(vars.all().keySet()));
                hint =
                        (hintName.startsWith("did you mean")
                                        ? hintName.substring(0, hintName.indexOf('?') + 1) + " "
                                        : "")
                                + "names it can use: "
                                + String.join(", ", vars.all().keySet());
            } else if (error.contains("no matching overload")) {
                hint =
                        "CEL does not mix int and double: convert with double(x) or int(x); the"
                                + " extra functions are log1p, log, exp, sqrt, abs, sin, cos, min,"
                                + " max, hour_of_day, day_of_week";
            } else {
                hint = "see docs/pipelines.md for the expression language";
            }
        }
        problem(line(node), what + ": " + error, hint);
    }

    private static List<String> fieldNames(Schema s) {
        return s.getFields().stream().map(Schema.Field::name).toList();
    }

    private static String hintField(String name, List<String> candidates) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String c : candidates) {
            int d = distance(name, c);
            if (d < bestDistance) {
                bestDistance = d;
                best = c;
            }
        }
        String list = "one of " + String.join(", ", candidates);
        return best != null && bestDistance <= Math.max(2, name.length() / 3)
                ? "did you mean '" + best + "'? (" + list + ")"
                : list;
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    /** "an int", "a double". */
    private static String article(String noun) {
        return ("aeiou".indexOf(noun.charAt(0)) >= 0 ? "an " : "a ") + noun;
    }

    private static int line(Node node) {
        return node == null || node.getStartMark() == null ? 0 : node.getStartMark().getLine() + 1;
    }

    private void problem(int line, String message, String fix) {
        problems.add(new Problem(def.source(), line, message, fix));
    }

    /** The definition with every file read kept, for TaskManagers. */
    PipelineDefinition keptDefinition(PipelineDefinition d) {
        for (Map.Entry<String, String> e : pendingFiles.entrySet()) {
            d = d.withFile(e.getKey(), e.getValue());
        }
        return d;
    }
}

package dev.streamscore.pipeline.expr;

import dev.cel.common.CelAbstractSyntaxTree;
import dev.cel.common.CelIssue;
import dev.cel.common.CelValidationException;
import dev.cel.common.CelValidationResult;
import dev.cel.common.ast.CelConstant;
import dev.cel.common.ast.CelExpr;
import dev.cel.common.types.CelType;
import dev.cel.common.types.NullableType;
import dev.cel.common.values.NullValue;
import dev.cel.compiler.CelCompiler;
import dev.cel.compiler.CelCompilerBuilder;
import dev.cel.compiler.CelCompilerFactory;
import dev.cel.runtime.CelEvaluationException;
import dev.cel.runtime.CelRuntime;
import dev.cel.runtime.CelRuntimeFactory;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.DoubleUnaryOperator;

/**
 * Compiles a pipeline's CEL expressions: CEL's own parser and type checker (dev.cel), against the
 * given {@link Variables} and the pipeline's {@link Functions}, then one of two ways to run each:
 *
 * <ul>
 *   <li>the <b>fast path</b>: the checked syntax tree turned into a tree of Java nodes that read
 *       their variables from a {@link Vars} by slot and compute on primitives. It covers what
 *       feature expressions are made of: literals, variables, arithmetic, comparisons, logic, the
 *       conditional, {@code in} a list of literals, {@code double()}, {@code int()}, {@code
 *       size()}, {@code startsWith}/{@code endsWith}/{@code contains}, {@code matches} with a
 *       literal pattern, and the pipeline's functions, each with CEL's semantics (an int overflow
 *       or division by zero is an error);
 *   <li>CEL's interpreter ({@link CelRuntime}) for everything else (macros, regular expressions,
 *       nullable values, conversions from strings, ...).
 * </ul>
 *
 * Why not CEL's interpreter alone: it took about 400 ns per feature expression here (a map lookup
 * and a boxed value per variable), which for the card-fraud file's 22 expressions would be more
 * than the whole enrichment cost today. {@code ExpressionsTest} checks that both paths agree on
 * random variables.
 */
public final class Expressions {

    private final Variables variables;
    private final CelCompiler compiler;
    private final CelRuntime runtime;

    public Expressions(Variables variables) {
        this.variables = variables;
        CelCompilerBuilder builder =
                CelCompilerFactory.standardCelCompilerBuilder()
                        // has(), all(), exists(), exists_one(), map(), filter(): CEL's macros.
                        .setStandardMacros(dev.cel.parser.CelStandardMacro.STANDARD_MACROS)
                        .addFunctionDeclarations(Functions.declarations());
        for (Variables.Variable v : variables.all().values()) {
            builder.addVar(v.name(), v.type().celType(v.nullable()));
        }
        this.compiler = builder.build();
        this.runtime =
                CelRuntimeFactory.standardCelRuntimeBuilder()
                        .addFunctionBindings(Functions.bindings())
                        .build();
    }

    /** A type-checked expression, or why it is not one. */
    public record Checked(
            CelAbstractSyntaxTree ast, ValueType type, boolean nullable, String error) {
        public boolean ok() {
            return error == null;
        }
    }

    /**
     * Parses and type-checks {@code source}.
     *
     * @return the checked tree, or an error message as CEL gives it (with the column it points at)
     */
    public Checked check(String source) {
        CelValidationResult result;
        try {
            result = compiler.compile(source);
        } catch (RuntimeException e) {
            return new Checked(null, null, false, "cannot compile: " + e.getMessage());
        }
        if (result.hasError()) {
            List<String> messages = new ArrayList<>();
            for (CelIssue issue : result.getErrors()) {
                int column = issue.getSourceLocation().getColumn();
                messages.add(
                        (column >= 0 ? "at column " + (column + 1) + ": " : "")
                                + issue.getMessage());
            }
            return new Checked(null, null, false, String.join("; ", messages));
        }
        CelAbstractSyntaxTree ast;
        try {
            ast = result.getAst();
        } catch (CelValidationException e) {
            return new Checked(null, null, false, e.getMessage());
        }
        CelType t = ast.getResultType();
        ValueType type = ValueType.of(t);
        if (type == null) {
            return new Checked(
                    ast,
                    null,
                    false,
                    "its type is " + t.name() + "; expected bool, int, double or string");
        }
        return new Checked(ast, type, t instanceof NullableType, null);
    }

    /** Compiles a checked expression to run, on the fast path where it can. */
    public Expr compile(String source, Checked checked) {
        java.util.Set<String> references = references(checked);
        try {
            Node node = translate(checked.ast(), checked.ast().getExpr());
            if (node.type == checked.type()) {
                return new Fast(source, checked.type(), node).withReferences(references);
            }
        } catch (Unsupported e) {
            // CEL's interpreter below
        }
        try {
            return new Interpreted(
                            source, checked.type(), runtime.createProgram(checked.ast()), variables)
                    .withReferences(references);
        } catch (dev.cel.common.CelException e) {
            throw new IllegalArgumentException(
                    "cannot plan '" + source + "': " + e.getMessage(), e);
        }
    }

    /**
     * Checks and compiles {@code source}; an {@link IllegalArgumentException} if it does not check.
     */
    public Expr compile(String source) {
        Checked checked = check(source);
        if (!checked.ok()) {
            throw new IllegalArgumentException("'" + source + "': " + checked.error());
        }
        return compile(source, checked);
    }

    /** Compiles {@code source} for CEL's interpreter only: for tests that compare both paths. */
    public Expr compileInterpreted(String source) {
        Checked checked = check(source);
        if (!checked.ok()) {
            throw new IllegalArgumentException("'" + source + "': " + checked.error());
        }
        java.util.Set<String> references = references(checked);
        try {
            return new Interpreted(
                            source, checked.type(), runtime.createProgram(checked.ast()), variables)
                    .withReferences(references);
        } catch (dev.cel.common.CelException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }

    // ---------------------------------------------------------------- CEL's interpreter

    private static final class Interpreted extends Expr {
        private final CelRuntime.Program program;
        private final Variables variables;
        private Vars current;

        Interpreted(
                String source, ValueType type, CelRuntime.Program program, Variables variables) {
            super(source, type);
            this.program = program;
            this.variables = variables;
        }

        @Override
        public boolean fast() {
            return false;
        }

        @Override
        public Object eval(Vars vars) {
            current = vars;
            Object v;
            try {
                v = program.eval(this::resolve);
            } catch (CelEvaluationException e) {
                throw new EvalException(e.getMessage(), e);
            } catch (RuntimeException e) {
                throw new EvalException(String.valueOf(e.getMessage()), e);
            }
            if (v instanceof NullValue || v instanceof com.google.protobuf.NullValue) {
                return null;
            }
            return v;
        }

        private Optional<Object> resolve(String name) {
            Variables.Variable v = variables.get(name);
            if (v == null) {
                return Optional.empty();
            }
            Object value = v.get(current);
            return Optional.of(value == null ? NullValue.NULL_VALUE : value);
        }
    }

    // ---------------------------------------------------------------- the fast path

    private static final class Fast extends Expr {
        private final Node node;

        Fast(String source, ValueType type, Node node) {
            super(source, type);
            this.node = node;
        }

        @Override
        public boolean fast() {
            return true;
        }

        @Override
        public Object eval(Vars vars) {
            try {
                return switch (node.type) {
                    case BOOL -> node.b(vars);
                    case INT -> node.l(vars);
                    case DOUBLE -> node.d(vars);
                    case STRING -> node.o(vars);
                };
            } catch (ArithmeticException | NullPointerException e) {
                throw new EvalException(noValue(e), e);
            }
        }

        @Override
        public boolean evalBool(Vars vars) {
            try {
                return node.b(vars);
            } catch (ArithmeticException | NullPointerException e) {
                throw new EvalException(noValue(e), e);
            }
        }

        @Override
        public long evalLong(Vars vars) {
            try {
                return node.l(vars);
            } catch (ArithmeticException | NullPointerException e) {
                throw new EvalException(noValue(e), e);
            }
        }

        @Override
        public double evalDouble(Vars vars) {
            try {
                return switch (node.type) {
                    case DOUBLE -> node.d(vars);
                    case INT -> node.l(vars);
                    case BOOL -> node.b(vars) ? 1.0 : 0.0;
                    case STRING -> throw new EvalException("expected a number, found a string");
                };
            } catch (ArithmeticException | NullPointerException e) {
                throw new EvalException(noValue(e), e);
            }
        }
    }

    private static String noValue(RuntimeException e) {
        return e instanceof NullPointerException
                ? "a null value where a string is needed"
                : e.getMessage();
    }

    /** A construct the fast path does not cover: the whole expression goes to CEL's interpreter. */
    private static final class Unsupported extends Exception {
        private static final long serialVersionUID = 1L;

        Unsupported() {
            super(null, null, false, false);
        }
    }

    /** A node of the fast path; it implements the one method of its type. */
    private abstract static class Node {
        final ValueType type;

        Node(ValueType type) {
            this.type = type;
        }

        long l(Vars v) {
            throw new IllegalStateException(type + " node read as int");
        }

        double d(Vars v) {
            throw new IllegalStateException(type + " node read as double");
        }

        boolean b(Vars v) {
            throw new IllegalStateException(type + " node read as bool");
        }

        /** A string node's value. */
        Object o(Vars v) {
            throw new IllegalStateException(type + " node read as string");
        }
    }

    private abstract static class L extends Node {
        L() {
            super(ValueType.INT);
        }

        @Override
        abstract long l(Vars v);
    }

    private abstract static class D extends Node {
        D() {
            super(ValueType.DOUBLE);
        }

        @Override
        abstract double d(Vars v);
    }

    private abstract static class B extends Node {
        B() {
            super(ValueType.BOOL);
        }

        @Override
        abstract boolean b(Vars v);
    }

    private abstract static class S extends Node {
        S() {
            super(ValueType.STRING);
        }

        @Override
        abstract Object o(Vars v);
    }

    private ValueType typeOf(CelAbstractSyntaxTree ast, CelExpr e) throws Unsupported {
        CelType t = ast.getType(e.id()).orElse(null);
        if (t instanceof NullableType nullable && ValueType.of(nullable) == ValueType.STRING) {
            return ValueType.STRING; // a string node's value may be null: see ident()
        }
        if (t == null || t instanceof NullableType) {
            throw new Unsupported();
        }
        ValueType type = ValueType.of(t);
        if (type == null) {
            throw new Unsupported();
        }
        return type;
    }

    /** The names {@code checked} refers to: every identifier in it. */
    private static java.util.Set<String> references(Checked checked) {
        java.util.Set<String> names = new java.util.HashSet<>();
        identifiers(checked.ast().getExpr(), names);
        return names;
    }

    /** Every identifier in {@code e} (a superset of the variables it reads) into {@code out}. */
    private static void identifiers(CelExpr e, java.util.Set<String> out) {
        switch (e.getKind()) {
            case IDENT -> out.add(e.ident().name());
            case SELECT -> identifiers(e.select().operand(), out);
            case CALL -> {
                e.call().target().ifPresent(t -> identifiers(t, out));
                e.call().args().forEach(a -> identifiers(a, out));
            }
            case LIST -> e.list().elements().forEach(x -> identifiers(x, out));
            case STRUCT -> e.struct().entries().forEach(x -> identifiers(x.value(), out));
            case MAP ->
                    e.map()
                            .entries()
                            .forEach(
                                    x -> {
                                        identifiers(x.key(), out);
                                        identifiers(x.value(), out);
                                    });
            case COMPREHENSION -> {
                CelExpr.CelComprehension c = e.comprehension();
                for (CelExpr x :
                        List.of(
                                c.iterRange(),
                                c.accuInit(),
                                c.loopCondition(),
                                c.loopStep(),
                                c.result())) {
                    identifiers(x, out);
                }
            }
            default -> {} // a constant, or nothing
        }
    }

    private Node translate(CelAbstractSyntaxTree ast, CelExpr e) throws Unsupported {
        if (e.getKind() == CelExpr.ExprKind.Kind.CONSTANT
                && e.constant().getKind() == CelConstant.Kind.NULL_VALUE) {
            return NULL;
        }
        ValueType type = typeOf(ast, e);
        switch (e.getKind()) {
            case CONSTANT:
                return constant(e.constant(), type);
            case IDENT:
                return ident(e.ident().name(), type);
            case CALL:
                return call(ast, e, type);
            default:
                throw new Unsupported();
        }
    }

    private static Node constant(CelConstant c, ValueType type) throws Unsupported {
        switch (c.getKind()) {
            case BOOLEAN_VALUE:
                {
                    boolean value = c.booleanValue();
                    return new B() {
                        boolean b(Vars v) {
                            return value;
                        }
                    };
                }
            case INT64_VALUE:
                {
                    long value = c.int64Value();
                    return new L() {
                        long l(Vars v) {
                            return value;
                        }
                    };
                }
            case DOUBLE_VALUE:
                {
                    double value = c.doubleValue();
                    return new D() {
                        double d(Vars v) {
                            return value;
                        }
                    };
                }
            case STRING_VALUE:
                {
                    String value = c.stringValue();
                    return new S() {
                        Object o(Vars v) {
                            return value;
                        }
                    };
                }
            default:
                throw new Unsupported();
        }
    }

    /** CEL's {@code null}: only compared with {@code ==} and {@code !=} on the fast path. */
    private static final Node NULL =
            new S() {
                Object o(Vars v) {
                    return null;
                }
            };

    private Node ident(String name, ValueType type) throws Unsupported {
        Variables.Variable var = variables.get(name);
        if (var == null || var.type() != type || (var.nullable() && type != ValueType.STRING)) {
            // A nullable string is a string node that may give null: every operation but == and
            // != then fails as CEL's does (see Fast); other nullable types go to the interpreter.
            throw new Unsupported();
        }
        int i = var.index();
        switch (type) {
            case BOOL:
                return new B() {
                    boolean b(Vars v) {
                        return v.longs[i] != 0;
                    }
                };
            case INT:
                return new L() {
                    long l(Vars v) {
                        return v.longs[i];
                    }
                };
            case DOUBLE:
                return new D() {
                    double d(Vars v) {
                        return v.doubles[i];
                    }
                };
            default:
                return new S() {
                    Object o(Vars v) {
                        return v.objects[i];
                    }
                };
        }
    }

    private Node call(CelAbstractSyntaxTree ast, CelExpr e, ValueType type) throws Unsupported {
        CelExpr.CelCall call = e.call();
        String f = call.function();
        List<CelExpr> args = call.args();
        if (call.target().isPresent()) {
            return member(ast, call.target().get(), f, args);
        }
        if (args.size() == 1) {
            Node a = translate(ast, args.get(0));
            return unary(f, a, type);
        }
        if (args.size() == 2) {
            if (f.equals("@in")) {
                return in(ast, args.get(0), args.get(1));
            }
            Node a = translate(ast, args.get(0));
            Node b = translate(ast, args.get(1));
            return binary(f, a, b, type);
        }
        if (args.size() == 3 && f.equals("_?_:_")) {
            Node c = translate(ast, args.get(0));
            Node a = translate(ast, args.get(1));
            Node b = translate(ast, args.get(2));
            if (c.type != ValueType.BOOL || a.type != type || b.type != type) {
                throw new Unsupported();
            }
            switch (type) {
                case BOOL:
                    return new B() {
                        boolean b(Vars v) {
                            return c.b(v) ? a.b(v) : b.b(v);
                        }
                    };
                case INT:
                    return new L() {
                        long l(Vars v) {
                            return c.b(v) ? a.l(v) : b.l(v);
                        }
                    };
                case DOUBLE:
                    return new D() {
                        double d(Vars v) {
                            return c.b(v) ? a.d(v) : b.d(v);
                        }
                    };
                default:
                    return new S() {
                        Object o(Vars v) {
                            return c.b(v) ? a.o(v) : b.o(v);
                        }
                    };
            }
        }
        throw new Unsupported();
    }

    private Node member(CelAbstractSyntaxTree ast, CelExpr target, String f, List<CelExpr> args)
            throws Unsupported {
        Node t = translate(ast, target);
        if (t.type != ValueType.STRING) {
            throw new Unsupported();
        }
        if (f.equals("size") && args.isEmpty()) {
            return sizeOf(t);
        }
        if (args.size() != 1) {
            throw new Unsupported();
        }
        if (f.equals("matches")
                && args.get(0).getKind() == CelExpr.ExprKind.Kind.CONSTANT
                && args.get(0).constant().getKind() == CelConstant.Kind.STRING_VALUE) {
            return matches(t, args.get(0).constant().stringValue());
        }
        Node a = translate(ast, args.get(0));
        if (a.type != ValueType.STRING) {
            throw new Unsupported();
        }
        switch (f) {
            case "startsWith":
                return new B() {
                    boolean b(Vars v) {
                        return ((String) t.o(v)).startsWith((String) a.o(v));
                    }
                };
            case "endsWith":
                return new B() {
                    boolean b(Vars v) {
                        return ((String) t.o(v)).endsWith((String) a.o(v));
                    }
                };
            case "contains":
                return new B() {
                    boolean b(Vars v) {
                        return ((String) t.o(v)).contains((String) a.o(v));
                    }
                };
            default:
                throw new Unsupported();
        }
    }

    /**
     * {@code s.matches("re")} with a literal pattern: CEL's matches is RE2's partial match, run
     * here with the very library CEL's runtime uses (RE2/J), compiled once. Not java.util.regex: it
     * differs from RE2 on ordinary patterns ({@code $} also matches before a final line end, {@code
     * .} does not match {@code \r}, {@code \s} matches a vertical tab, {@code [[:upper:]]} and
     * {@code [a-z&&[^b]]} mean other things), so a check such as {@code
     * currency.matches("^[A-Z]{3}$")} would pass "USD\n" on one path and not on the other.
     */
    private static Node matches(Node s, String regex) throws Unsupported {
        com.google.re2j.Pattern pattern;
        try {
            pattern = com.google.re2j.Pattern.compile(regex);
        } catch (RuntimeException e) {
            throw new Unsupported(); // CEL's interpreter reports it, on every event
        }
        return new B() {
            boolean b(Vars v) {
                return pattern.matcher((String) s.o(v)).find();
            }
        };
    }

    private static Node sizeOf(Node s) {
        return new L() {
            long l(Vars v) {
                String str = (String) s.o(v);
                return str.codePointCount(0, str.length());
            }
        };
    }

    private Node in(CelAbstractSyntaxTree ast, CelExpr element, CelExpr list) throws Unsupported {
        if (list.getKind() != CelExpr.ExprKind.Kind.LIST
                || !list.list().optionalIndices().isEmpty()) {
            throw new Unsupported();
        }
        Node el = translate(ast, element);
        Set<Object> values = new HashSet<>();
        for (CelExpr item : list.list().elements()) {
            if (item.getKind() != CelExpr.ExprKind.Kind.CONSTANT) {
                throw new Unsupported();
            }
            Node c = constant(item.constant(), null);
            if (c.type != el.type) {
                throw new Unsupported(); // CEL's heterogeneous equality: leave it to CEL
            }
            values.add(boxed(c));
        }
        switch (el.type) {
            case INT:
                return new B() {
                    boolean b(Vars v) {
                        return values.contains(el.l(v));
                    }
                };
            case STRING:
                return new B() {
                    boolean b(Vars v) {
                        return values.contains(el.o(v));
                    }
                };
            case BOOL:
                return new B() {
                    boolean b(Vars v) {
                        return values.contains(el.b(v));
                    }
                };
            default:
                throw new Unsupported(); // doubles: NaN and -0.0 compare as CEL says, not as equals
        }
    }

    private static Object boxed(Node constant) {
        return switch (constant.type) {
            case BOOL -> constant.b(null);
            case INT -> constant.l(null);
            case DOUBLE -> constant.d(null);
            case STRING -> constant.o(null);
        };
    }

    private static Node unary(String f, Node a, ValueType type) throws Unsupported {
        switch (f) {
            case "!_":
                if (a.type != ValueType.BOOL) {
                    break;
                }
                return new B() {
                    boolean b(Vars v) {
                        return !a.b(v);
                    }
                };
            case "-_":
                if (a.type == ValueType.INT) {
                    return new L() {
                        long l(Vars v) {
                            return Math.negateExact(a.l(v));
                        }
                    };
                }
                if (a.type == ValueType.DOUBLE) {
                    return new D() {
                        double d(Vars v) {
                            return -a.d(v);
                        }
                    };
                }
                break;
            case "double":
                if (a.type == ValueType.INT) {
                    return new D() {
                        double d(Vars v) {
                            return a.l(v);
                        }
                    };
                }
                if (a.type == ValueType.DOUBLE) {
                    return a;
                }
                break;
            case "int":
                if (a.type == ValueType.INT) {
                    return a;
                }
                if (a.type == ValueType.DOUBLE) {
                    return new L() {
                        long l(Vars v) {
                            return toInt(a.d(v));
                        }
                    };
                }
                break;
            case "size":
                if (a.type == ValueType.STRING) {
                    return sizeOf(a);
                }
                break;
            case "hour_of_day":
                if (a.type == ValueType.INT) {
                    return new D() {
                        double d(Vars v) {
                            return Functions.hourOfDay(a.l(v));
                        }
                    };
                }
                break;
            case "day_of_week":
                if (a.type == ValueType.INT) {
                    return new D() {
                        double d(Vars v) {
                            return Functions.dayOfWeek(a.l(v));
                        }
                    };
                }
                break;
            default:
                DoubleUnaryOperator math = Functions.MATH.get(f);
                if (math == null) {
                    break;
                }
                if (f.equals("abs") && a.type == ValueType.INT) {
                    return new L() {
                        long l(Vars v) {
                            return Functions.absExact(a.l(v));
                        }
                    };
                }
                if (a.type == ValueType.DOUBLE) {
                    return new D() {
                        double d(Vars v) {
                            return math.applyAsDouble(a.d(v));
                        }
                    };
                }
                if (a.type == ValueType.INT) {
                    return new D() {
                        double d(Vars v) {
                            return math.applyAsDouble((double) a.l(v));
                        }
                    };
                }
        }
        throw new Unsupported();
    }

    /** CEL's double-to-int: truncation toward zero, an error out of the int range or for NaN. */
    static long toInt(double d) {
        if (!(d > -9.223372036854775808E18 && d < 9.223372036854775807E18)) {
            throw new ArithmeticException("double " + d + " is out of the int range");
        }
        return (long) d;
    }

    private static Node binary(String f, Node a, Node b, ValueType type) throws Unsupported {
        if (f.equals("_&&_") || f.equals("_||_")) {
            if (a.type != ValueType.BOOL || b.type != ValueType.BOOL) {
                throw new Unsupported();
            }
            boolean and = f.equals("_&&_");
            // CEL's logic is commutative over errors: false && error is false either way round.
            return new B() {
                boolean b(Vars v) {
                    boolean left;
                    try {
                        left = a.b(v);
                    } catch (RuntimeException e) {
                        if (b.b(v) != and) {
                            return !and;
                        }
                        throw e;
                    }
                    if (left != and) {
                        return left;
                    }
                    return b.b(v);
                }
            };
        }
        if (a.type != b.type) {
            throw new Unsupported();
        }
        ValueType t = a.type;
        switch (f) {
            case "_==_":
            case "_!=_":
                return equality(a, b, f.equals("_!=_"));
            case "_<_":
            case "_<=_":
            case "_>_":
            case "_>=_":
                return ordering(f, a, b);
            case "_+_":
                if (t == ValueType.INT) {
                    return new L() {
                        long l(Vars v) {
                            return Math.addExact(a.l(v), b.l(v));
                        }
                    };
                }
                if (t == ValueType.DOUBLE) {
                    return new D() {
                        double d(Vars v) {
                            return a.d(v) + b.d(v);
                        }
                    };
                }
                if (t == ValueType.STRING) {
                    return new S() {
                        Object o(Vars v) {
                            return ((String) a.o(v)).concat((String) b.o(v));
                        }
                    };
                }
                break;
            case "_-_":
                if (t == ValueType.INT) {
                    return new L() {
                        long l(Vars v) {
                            return Math.subtractExact(a.l(v), b.l(v));
                        }
                    };
                }
                if (t == ValueType.DOUBLE) {
                    return new D() {
                        double d(Vars v) {
                            return a.d(v) - b.d(v);
                        }
                    };
                }
                break;
            case "_*_":
                if (t == ValueType.INT) {
                    return new L() {
                        long l(Vars v) {
                            return Math.multiplyExact(a.l(v), b.l(v));
                        }
                    };
                }
                if (t == ValueType.DOUBLE) {
                    return new D() {
                        double d(Vars v) {
                            return a.d(v) * b.d(v);
                        }
                    };
                }
                break;
            case "_/_":
                if (t == ValueType.INT) {
                    return new L() {
                        long l(Vars v) {
                            long x = a.l(v);
                            long y = b.l(v);
                            if (y == 0) {
                                throw new ArithmeticException("division by zero");
                            }
                            if (x == Long.MIN_VALUE && y == -1) {
                                throw new ArithmeticException("integer overflow");
                            }
                            return x / y;
                        }
                    };
                }
                if (t == ValueType.DOUBLE) {
                    return new D() {
                        double d(Vars v) {
                            return a.d(v) / b.d(v);
                        }
                    };
                }
                break;
            case "_%_":
                if (t == ValueType.INT) {
                    return new L() {
                        long l(Vars v) {
                            long x = a.l(v);
                            long y = b.l(v);
                            if (y == 0) {
                                throw new ArithmeticException("modulus by zero");
                            }
                            return y == -1 ? 0 : x % y;
                        }
                    };
                }
                break;
            case "min":
            case "max":
                boolean min = f.equals("min");
                if (t == ValueType.INT) {
                    return new L() {
                        long l(Vars v) {
                            return min ? Math.min(a.l(v), b.l(v)) : Math.max(a.l(v), b.l(v));
                        }
                    };
                }
                if (t == ValueType.DOUBLE) {
                    return new D() {
                        double d(Vars v) {
                            return min ? Math.min(a.d(v), b.d(v)) : Math.max(a.d(v), b.d(v));
                        }
                    };
                }
                break;
            default:
                break;
        }
        throw new Unsupported();
    }

    private static Node equality(Node a, Node b, boolean negate) {
        switch (a.type) {
            case INT:
                return new B() {
                    boolean b(Vars v) {
                        return (a.l(v) == b.l(v)) != negate;
                    }
                };
            case DOUBLE:
                return new B() {
                    boolean b(Vars v) {
                        return (a.d(v) == b.d(v)) != negate;
                    }
                };
            case BOOL:
                return new B() {
                    boolean b(Vars v) {
                        return (a.b(v) == b.b(v)) != negate;
                    }
                };
            default:
                return new B() {
                    boolean b(Vars v) {
                        return java.util.Objects.equals(a.o(v), b.o(v)) != negate;
                    }
                };
        }
    }

    private static Node ordering(String f, Node a, Node b) throws Unsupported {
        int op =
                switch (f) {
                    case "_<_" -> 0;
                    case "_<=_" -> 1;
                    case "_>_" -> 2;
                    default -> 3;
                };
        switch (a.type) {
            case INT:
                return new B() {
                    boolean b(Vars v) {
                        long x = a.l(v);
                        long y = b.l(v);
                        return switch (op) {
                            case 0 -> x < y;
                            case 1 -> x <= y;
                            case 2 -> x > y;
                            default -> x >= y;
                        };
                    }
                };
            case DOUBLE:
                return new B() {
                    boolean b(Vars v) {
                        double x = a.d(v);
                        double y = b.d(v);
                        return switch (op) {
                            case 0 -> x < y;
                            case 1 -> x <= y;
                            case 2 -> x > y;
                            default -> x >= y;
                        };
                    }
                };
            default:
                // Strings order by code point in CEL, not by UTF-16 unit; bools are rare here.
                throw new Unsupported();
        }
    }
}

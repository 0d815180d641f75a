package dev.streamscore.pipeline.expr;

import static dev.cel.common.CelFunctionDecl.newFunctionDeclaration;
import static dev.cel.common.CelOverloadDecl.newGlobalOverload;

import dev.cel.common.CelFunctionDecl;
import dev.cel.common.types.SimpleType;
import dev.cel.runtime.CelFunctionBinding;
import java.util.ArrayList;
import java.util.List;
import java.util.function.DoubleUnaryOperator;

/**
 * The functions a pipeline's expressions have besides CEL's standard ones: {@code log1p}, {@code
 * log}, {@code exp}, {@code sqrt}, {@code abs}, {@code sin}, {@code cos} (of a double or an int, to
 * a double; {@code abs} of an int is an int), {@code min} and {@code max} (of two doubles or two
 * ints), {@code hour_of_day(millis)} (UTC, 0.0 to 24.0, fractional) and {@code day_of_week(millis)}
 * (0.0 = Monday). Each is one Java method here, used alike by the compiled fast path and by CEL's
 * own runtime.
 */
public final class Functions {

    static final long HOUR = 3_600_000L;
    static final long DAY = 24 * HOUR;

    /** The one-argument math functions, by name. */
    static final java.util.Map<String, DoubleUnaryOperator> MATH =
            java.util.Map.of(
                    "log1p", Math::log1p,
                    "log", Math::log,
                    "exp", Math::exp,
                    "sqrt", Math::sqrt,
                    "abs", Math::abs,
                    "sin", Math::sin,
                    "cos", Math::cos);

    private Functions() {}

    /** The hour of the UTC day of {@code millis} since the epoch, 0.0 up to 24.0. */
    public static double hourOfDay(long millis) {
        return ((millis % DAY) + DAY) % DAY / (double) HOUR;
    }

    /** The UTC day of the week of {@code millis} since the epoch, 0.0 = Monday to 6.0 = Sunday. */
    public static double dayOfWeek(long millis) {
        // 1970-01-01 was a Thursday (3 when Monday is 0).
        return Math.floorMod(Math.floorDiv(millis, DAY) + 3, 7L);
    }

    /** {@code abs} of an int: an error (not a wrap) for the one int without a positive. */
    public static long absExact(long value) {
        return value < 0 ? Math.negateExact(value) : value;
    }

    static List<CelFunctionDecl> declarations() {
        List<CelFunctionDecl> decls = new ArrayList<>();
        for (String name : MATH.keySet()) {
            if (name.equals("abs")) {
                decls.add(
                        newFunctionDeclaration(
                                name,
                                newGlobalOverload(
                                        "abs_double", SimpleType.DOUBLE, SimpleType.DOUBLE),
                                newGlobalOverload("abs_int", SimpleType.INT, SimpleType.INT)));
            } else {
                decls.add(
                        newFunctionDeclaration(
                                name,
                                newGlobalOverload(
                                        name + "_double", SimpleType.DOUBLE, SimpleType.DOUBLE),
                                newGlobalOverload(
                                        name + "_int", SimpleType.DOUBLE, SimpleType.INT)));
            }
        }
        for (String name : List.of("min", "max")) {
            decls.add(
                    newFunctionDeclaration(
                            name,
                            newGlobalOverload(
                                    name + "_double_double",
                                    SimpleType.DOUBLE,
                                    SimpleType.DOUBLE,
                                    SimpleType.DOUBLE),
                            newGlobalOverload(
                                    name + "_int_int",
                                    SimpleType.INT,
                                    SimpleType.INT,
                                    SimpleType.INT)));
        }
        decls.add(
                newFunctionDeclaration(
                        "hour_of_day",
                        newGlobalOverload("hour_of_day_int", SimpleType.DOUBLE, SimpleType.INT)));
        decls.add(
                newFunctionDeclaration(
                        "day_of_week",
                        newGlobalOverload("day_of_week_int", SimpleType.DOUBLE, SimpleType.INT)));
        return decls;
    }

    static List<CelFunctionBinding> bindings() {
        List<CelFunctionBinding> b = new ArrayList<>();
        MATH.forEach(
                (name, f) -> {
                    b.add(
                            CelFunctionBinding.from(
                                    name + "_double", Double.class, x -> f.applyAsDouble(x)));
                    if (name.equals("abs")) {
                        b.add(CelFunctionBinding.from("abs_int", Long.class, Functions::absExact));
                    } else {
                        b.add(
                                CelFunctionBinding.from(
                                        name + "_int",
                                        Long.class,
                                        x -> f.applyAsDouble((double) x)));
                    }
                });
        b.add(CelFunctionBinding.from("min_double_double", Double.class, Double.class, Math::min));
        b.add(CelFunctionBinding.from("max_double_double", Double.class, Double.class, Math::max));
        b.add(CelFunctionBinding.from("min_int_int", Long.class, Long.class, Math::min));
        b.add(CelFunctionBinding.from("max_int_int", Long.class, Long.class, Math::max));
        b.add(CelFunctionBinding.from("hour_of_day_int", Long.class, Functions::hourOfDay));
        b.add(CelFunctionBinding.from("day_of_week_int", Long.class, Functions::dayOfWeek));
        return b;
    }
}

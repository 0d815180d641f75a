package dev.streamscore.operators.lifecycle;

import dev.streamscore.schemas.ModelAction;
import dev.streamscore.schemas.ModelCommand;
import dev.streamscore.schemas.ModelRegistryState;
import dev.streamscore.schemas.ModelRole;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Which models an inference subtask serves, as the commands it applied made them: the champions in
 * the order they were deployed (the last one serves, the one before is where a rollback returns),
 * the challenger if any, and the commands received but not yet applied. Pure state, no models: the
 * operator loads and swaps, then records here what it did; {@link #state} is what its checkpoint
 * holds. Touched only by the task thread.
 *
 * <pre>{@code
 * ModelRegistry registry = ModelRegistry.fresh(configChampion, null);
 * registry.received(deploy);            // a command arrived
 * ModelCommand next = registry.nextPending();
 * registry.applied(next);               // it was loaded, verified and swapped in
 * }</pre>
 */
public final class ModelRegistry {

    /** Champions kept for rollbacks, the serving one included. */
    static final int MAX_CHAMPIONS = 32;

    private final List<ModelCommand> champions;
    private ModelCommand challenger;
    private ModelCommand configuredChallenger;
    private final ArrayDeque<ModelCommand> pending;

    private ModelRegistry(
            List<ModelCommand> champions,
            ModelCommand challenger,
            ModelCommand configuredChallenger,
            List<ModelCommand> pending) {
        this.champions = new ArrayList<>(champions);
        this.challenger = challenger;
        this.configuredChallenger = configuredChallenger;
        this.pending = new ArrayDeque<>(pending);
    }

    /** The registry of a job started without state: the champion of its configuration. */
    public static ModelRegistry fresh(ModelCommand champion) {
        return new ModelRegistry(List.of(champion), null, null, List.of());
    }

    /** The registry a checkpoint recorded. */
    public static ModelRegistry restored(ModelRegistryState state) {
        if (state.getChampions().isEmpty()) {
            throw new IllegalStateException(
                    "the checkpointed model registry names no champion: " + state);
        }
        return new ModelRegistry(
                state.getChampions(),
                state.getChallenger(),
                state.getConfiguredChallenger(),
                state.getPending());
    }

    /** What the checkpoint holds. */
    public ModelRegistryState state() {
        return ModelRegistryState.newBuilder()
                .setChampions(new ArrayList<>(champions))
                .setChallenger(challenger)
                .setPending(new ArrayList<>(pending))
                .setConfiguredChallenger(configuredChallenger)
                .build();
    }

    /** The deploy command of the champion serving. */
    public ModelCommand champion() {
        return champions.get(champions.size() - 1);
    }

    /** The champion a rollback returns to; {@code null} when none. */
    public ModelCommand previousChampion() {
        return champions.size() < 2 ? null : champions.get(champions.size() - 2);
    }

    /** The deploy command of the challenger; {@code null} when none. */
    public ModelCommand challenger() {
        return challenger;
    }

    /** The last champion taken from the job's configuration; {@code null} when none is kept. */
    public ModelCommand configuredChampion() {
        for (int i = champions.size() - 1; i >= 0; i--) {
            if (ModelCommands.JOB_CONFIG.equals(champions.get(i).getCommandId())) {
                return champions.get(i);
            }
        }
        return null;
    }

    /** The challenger the job's configuration named when last started; {@code null}: none. */
    public ModelCommand configuredChallenger() {
        return configuredChallenger;
    }

    /** Records the challenger the job's configuration names now ({@code null}: none). */
    public void configuredChallenger(ModelCommand command) {
        this.configuredChallenger = command;
    }

    /** A command arrived; it waits until {@link #applied} or {@link #refused}. */
    public void received(ModelCommand command) {
        pending.add(command);
    }

    /** The oldest command not yet applied; {@code null} when none. */
    public ModelCommand nextPending() {
        return pending.peek();
    }

    /** Commands received and not yet applied. */
    public List<ModelCommand> pending() {
        return List.copyOf(pending);
    }

    /** {@code command}, the oldest pending one, was refused: the models stay as they are. */
    public void refused(ModelCommand command) {
        ModelCommand head = pending.poll();
        if (head != command) {
            throw new IllegalStateException(
                    "refused " + command + ", expected the oldest pending command " + head);
        }
    }

    /** {@code command}, the oldest pending one, was carried out. */
    public void applied(ModelCommand command) {
        refused(command); // takes it off the queue
        record(command);
    }

    /** Records {@code command} as carried out, off the queue: the job's own models at start. */
    public void record(ModelCommand command) {
        switch (command.getAction()) {
            case DEPLOY -> {
                if (command.getRole() == ModelRole.CHAMPION) {
                    champions.add(command);
                    if (champions.size() > MAX_CHAMPIONS) {
                        // The oldest, but never the configuration's: restores compare with it.
                        ModelCommand configured = configuredChampion();
                        champions.remove(champions.get(0) == configured ? 1 : 0);
                    }
                    if (challenger != null
                            && ModelCommands.identity(challenger)
                                    .equals(ModelCommands.identity(command))) {
                        challenger = null; // promoted
                    }
                } else {
                    challenger = command;
                }
            }
            case ROLLBACK -> {
                if (champions.size() < 2) {
                    throw new IllegalStateException("no champion to roll back to");
                }
                champions.remove(champions.size() - 1);
            }
            case RETIRE -> challenger = null;
            default -> throw new IllegalArgumentException("unknown action " + command.getAction());
        }
    }

    /** Whether a deploy of {@code command} as champion would also retire the challenger. */
    public boolean promotes(ModelCommand command) {
        return command.getAction() == ModelAction.DEPLOY
                && command.getRole() == ModelRole.CHAMPION
                && challenger != null
                && ModelCommands.identity(challenger).equals(ModelCommands.identity(command));
    }

    /**
     * Forgets the challenger, without a command: one that can no longer be loaded after a restore.
     */
    public void dropChallenger() {
        challenger = null;
    }

    @Override
    public String toString() {
        return "champion "
                + ModelCommands.identity(champion())
                + ", challenger "
                + (challenger == null ? "none" : ModelCommands.identity(challenger))
                + ", "
                + pending.size()
                + " pending";
    }
}

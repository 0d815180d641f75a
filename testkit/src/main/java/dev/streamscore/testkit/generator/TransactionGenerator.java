package dev.streamscore.testkit.generator;

import dev.streamscore.schemas.Channel;
import dev.streamscore.schemas.Transaction;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.SplittableRandom;

/**
 * A deterministic stream of realistic card transactions with labelled fraud, for the demo, the
 * tests and model training. The same seed and settings give the same transactions, byte for byte.
 *
 * <p>Legitimate spending follows per-card profiles: a home country and its currency, a typical
 * amount, favourite merchants, an e-commerce share and a daily rhythm in the card's local time.
 * Fraud is injected as episodes of three patterns (see {@link FraudPattern}) at a controlled rate,
 * and an optional share of transactions is re-sent as duplicates. Event times advance on a
 * simulated clock from {@link Settings#start()}, in order.
 *
 * <pre>{@code
 * TransactionGenerator gen = new TransactionGenerator(TransactionGenerator.Settings.defaults(42));
 * GeneratedTransaction next = gen.next();
 * }</pre>
 */
public final class TransactionGenerator implements Iterator<GeneratedTransaction> {

    /**
     * @param seed the seed of everything random
     * @param cards number of distinct cards
     * @param merchants number of distinct merchants
     * @param fraudRate share of (non-duplicate) transactions that are fraud, in [0, 0.5]
     * @param duplicateRate share of transactions re-sent later as duplicates, in [0, 0.5]
     * @param eventsPerSecond simulated arrival rate, which sets how densely time is filled
     * @param start simulated time of the first transaction
     * @param difficulty how much the fraud looks like ordinary spending, and how noisy the labels
     *     are
     */
    public record Settings(
            long seed,
            int cards,
            int merchants,
            double fraudRate,
            double duplicateRate,
            double eventsPerSecond,
            Instant start,
            Difficulty difficulty) {
        public Settings {
            check(cards >= 1, "cards must be at least 1, got %s", cards);
            check(merchants >= 50, "merchants must be at least 50, got %s", merchants);
            check(
                    fraudRate >= 0 && fraudRate <= 0.5,
                    "fraud rate must be in [0, 0.5], got %s",
                    fraudRate);
            check(
                    duplicateRate >= 0 && duplicateRate <= 0.5,
                    "duplicate rate must be in [0, 0.5], got %s",
                    duplicateRate);
            check(
                    eventsPerSecond > 0,
                    "events per second must be positive, got %s",
                    eventsPerSecond);
            check(start != null, "start time must be set, got %s", start);
            check(difficulty != null, "difficulty must be set, got %s", difficulty);
        }

        /**
         * 10 000 cards, 2 000 merchants, 0.5% fraud, no duplicates, from 2020-01-01 (so that even a
         * long run of simulated time stays in the past, where the job accepts event times); about 3
         * transactions per card per simulated day; {@link Difficulty#EASY} fraud, which the demo
         * and the benchmark use.
         */
        public static Settings defaults(long seed) {
            return new Settings(
                    seed,
                    10_000,
                    2_000,
                    0.005,
                    0.0,
                    0.5,
                    Instant.parse("2020-01-01T00:00:00Z"),
                    Difficulty.EASY);
        }

        public Settings withFraudRate(double rate) {
            return new Settings(
                    seed,
                    cards,
                    merchants,
                    rate,
                    duplicateRate,
                    eventsPerSecond,
                    start,
                    difficulty);
        }

        public Settings withDuplicateRate(double rate) {
            return new Settings(
                    seed, cards, merchants, fraudRate, rate, eventsPerSecond, start, difficulty);
        }

        public Settings withEventsPerSecond(double rate) {
            return new Settings(
                    seed, cards, merchants, fraudRate, duplicateRate, rate, start, difficulty);
        }

        public Settings withCards(int n) {
            return new Settings(
                    seed,
                    n,
                    merchants,
                    fraudRate,
                    duplicateRate,
                    eventsPerSecond,
                    start,
                    difficulty);
        }

        public Settings withDifficulty(Difficulty d) {
            return new Settings(
                    seed, cards, merchants, fraudRate, duplicateRate, eventsPerSecond, start, d);
        }
    }

    private static void check(boolean ok, String message, Object value) {
        if (!ok) {
            throw new IllegalArgumentException(String.format(message, value));
        }
    }

    /** Countries cards are issued in: code, currency, share of cards, UTC offset in hours. */
    private static final String[][] HOME_COUNTRIES = {
        {"US", "USD", "35", "-5"}, {"GB", "GBP", "12", "0"}, {"DE", "EUR", "10", "1"},
        {"FR", "EUR", "8", "1"}, {"NL", "EUR", "5", "1"}, {"ES", "EUR", "5", "1"},
        {"IT", "EUR", "5", "1"}, {"CA", "CAD", "6", "-5"}, {"AU", "AUD", "4", "10"},
        {"JP", "JPY", "4", "9"}, {"BR", "BRL", "3", "-3"}, {"IN", "INR", "3", "5"}
    };

    /** Where fraudsters cash out: code and currency. */
    private static final String[][] FRAUD_COUNTRIES = {
        {"NG", "NGN"},
        {"RO", "RON"},
        {"ID", "IDR"},
        {"VN", "VND"},
        {"PH", "PHP"},
        {"UA", "UAH"},
        {"BR", "BRL"},
        {"MX", "MXN"}
    };

    /** Everyday merchant categories with their weight and typical amount factor. */
    private static final String[][] EVERYDAY_MCC = {
        {"5411", "20", "1.2"}, {"5812", "12", "1.0"}, {"5541", "10", "1.1"}, {"5912", "6", "0.7"},
        {"5311", "6", "1.8"}, {"5691", "6", "1.9"}, {"4121", "5", "0.6"}, {"5814", "10", "0.3"},
        {"4111", "5", "0.15"}, {"5942", "3", "0.7"}, {"7832", "3", "0.6"}, {"5999", "6", "1.0"},
        {"4900", "3", "2.5"}, {"5732", "2", "4.0"}, {"5944", "1", "5.0"}, {"5816", "3", "0.5"},
        {"7995", "1", "1.5"}, {"4829", "1", "3.0"}, {"6011", "4", "2.0"}
    };

    private static final String[] TESTING_MCC = {"5816", "5967", "5999"};
    private static final String[] TAKEOVER_MCC = {"5732", "5944", "6011", "4829", "6051"};
    private static final String[] COMPROMISE_MCC = {"5732", "5944", "5816"};

    private static final long SECOND = 1000L;
    private static final long HOUR = 3600 * SECOND;

    private final Settings settings;
    private final SplittableRandom random;
    private final Card[] cards;
    private final double[] cardWeightCumulative;
    private final Merchant[] merchants;
    private final List<List<Merchant>> merchantsByHomeCountry = new ArrayList<>();
    private final List<Merchant> onlineMerchants = new ArrayList<>();
    private final List<Merchant> breachedMerchants = new ArrayList<>();
    private final PriorityQueue<Scheduled> scheduled =
            new PriorityQueue<>(
                    (a, b) ->
                            a.time != b.time
                                    ? Long.compare(a.time, b.time)
                                    : Long.compare(a.sequence, b.sequence));
    private final ArrayDeque<Resend> resends = new ArrayDeque<>();

    private long clock;
    private long emitted;
    private long fraudEmitted;
    private long fraudScheduled;
    private long duplicatesEmitted;
    private long sequence;

    public TransactionGenerator(Settings settings) {
        this.settings = settings;
        this.random = new SplittableRandom(settings.seed());
        this.clock = settings.start().toEpochMilli();
        for (int i = 0; i < HOME_COUNTRIES.length; i++) {
            merchantsByHomeCountry.add(new ArrayList<>());
        }
        this.merchants = createMerchants(settings.merchants());
        this.cards = new Card[settings.cards()];
        this.cardWeightCumulative = new double[settings.cards()];
        double total = 0;
        for (int i = 0; i < cards.length; i++) {
            cards[i] = createCard(i);
            total += cards[i].activity;
            cardWeightCumulative[i] = total;
        }
    }

    @Override
    public boolean hasNext() {
        return true;
    }

    @Override
    public GeneratedTransaction next() {
        Resend due = resends.peek();
        if (due != null && due.atEmitted <= emitted) {
            resends.poll();
            emitted++;
            duplicatesEmitted++;
            return new GeneratedTransaction(
                    due.original.transaction(),
                    due.original.pattern(),
                    true,
                    due.original.labelledFraud());
        }
        // Keep fraud at its rate among original (non-duplicate) transactions, counting what is
        // already scheduled, so the rate holds over any prefix of the stream.
        long originals = emitted - duplicatesEmitted;
        if (fraudEmitted + fraudScheduled
                < settings.fraudRate() * (originals + fraudScheduled + 1)) {
            startEpisode();
        }
        GeneratedTransaction next;
        while (true) {
            long candidate =
                    clock
                            + Math.max(
                                    1,
                                    Math.round(exponential(1000.0 / settings.eventsPerSecond())));
            Scheduled fraud = scheduled.peek();
            if (fraud != null && fraud.time <= candidate) {
                scheduled.poll();
                fraudScheduled--;
                clock = Math.max(clock, fraud.time);
                next =
                        new GeneratedTransaction(
                                fraud.build(clock),
                                fraud.pattern,
                                false,
                                !realistic() || random.nextDouble() >= Difficulty.UNREPORTED_FRAUD);
                fraudEmitted++;
                break;
            }
            clock = candidate;
            Card card = pickCard();
            if (random.nextDouble() < dailyRhythm(card.localHour(clock))) {
                next =
                        new GeneratedTransaction(
                                legitimate(card),
                                FraudPattern.NONE,
                                false,
                                realistic() && random.nextDouble() < Difficulty.DISPUTED_GENUINE);
                break;
            }
        }
        emitted++;
        if (settings.duplicateRate() > 0 && random.nextDouble() < settings.duplicateRate()) {
            resends.add(new Resend(next, emitted + 1 + random.nextInt(50)));
        }
        return next;
    }

    // ---------------------------------------------------------------- legitimate spending

    private Transaction legitimate(Card card) {
        Merchant merchant;
        double roll = random.nextDouble();
        if (roll < 0.02) {
            merchant = merchants[random.nextInt(merchants.length)]; // travel or cross-border
        } else if (roll < 0.80) {
            merchant = card.favourites[random.nextInt(card.favourites.length)];
        } else {
            List<Merchant> local = merchantsByHomeCountry.get(card.home);
            merchant =
                    local.isEmpty() ? card.favourites[0] : local.get(random.nextInt(local.size()));
        }
        if (merchant.breached && card.breachedAt == null) {
            card.breachedAt = merchant;
            merchant.victims.add(card);
        }
        boolean online = merchant.online || random.nextDouble() < card.ecomShare * 0.3;
        Channel channel =
                merchant.mcc.equals("6011") ? Channel.ATM : online ? Channel.ECOM : Channel.POS;
        double major =
                Math.exp(card.logAmount + random.nextGaussian() * 0.6) * merchant.amountFactor;
        return transaction(card, merchant, channel, toMinor(major), card.device);
    }

    // ---------------------------------------------------------------- fraud episodes

    private boolean realistic() {
        return settings.difficulty() == Difficulty.REALISTIC;
    }

    private void startEpisode() {
        double roll = random.nextDouble();
        boolean quiet = realistic() && random.nextDouble() < Difficulty.QUIET_EPISODES;
        if (roll < 0.25 && (quiet ? startQuietCashOut() : startMerchantCompromise())) {
            return;
        }
        if (roll < 0.60) {
            if (quiet) {
                startSlowCardTesting();
            } else {
                startCardTesting();
            }
        } else if (quiet) {
            startQuietTakeover();
        } else {
            startAccountTakeover();
        }
    }

    /** A few small probes at the card's own online merchants, hours apart. */
    private void startSlowCardTesting() {
        Card card = pickCard();
        long t = clock + random.nextLong(600 * SECOND);
        int probes = 2 + random.nextInt(4);
        for (int i = 0; i < probes; i++) {
            t += (20 * 60 + random.nextInt(160 * 60)) * SECOND;
            Merchant m = usualOnlineMerchant(card);
            double major = Math.exp(card.logAmount + random.nextGaussian() * 0.6) * 0.3;
            schedule(
                    t,
                    FraudPattern.CARD_TESTING,
                    card,
                    m,
                    m.mcc,
                    null,
                    Channel.ECOM,
                    toMinor(major),
                    card.device);
        }
    }

    /** Spends that copy the card's habits: its merchants, its channels, a little more money. */
    private void startQuietTakeover() {
        Card card = pickCard();
        long t = clock + random.nextLong(HOUR);
        int spends = 2 + random.nextInt(4);
        for (int i = 0; i < spends; i++) {
            t += (HOUR + random.nextLong(5 * HOUR));
            Merchant m = card.favourites[random.nextInt(card.favourites.length)];
            boolean online = m.online || random.nextDouble() < card.ecomShare;
            Channel channel =
                    m.mcc.equals("6011") ? Channel.ATM : online ? Channel.ECOM : Channel.POS;
            double major =
                    Math.exp(card.logAmount + random.nextGaussian() * 0.6)
                            * m.amountFactor
                            * (1 + random.nextDouble() * 2);
            schedule(
                    t,
                    FraudPattern.ACCOUNT_TAKEOVER,
                    card,
                    m,
                    m.mcc,
                    null,
                    channel,
                    toMinor(major),
                    card.device);
        }
    }

    /** A breached card spent at ordinary amounts with merchants of its home country. */
    private boolean startQuietCashOut() {
        List<Merchant> withVictims = new ArrayList<>();
        for (Merchant m : breachedMerchants) {
            if (!m.victims.isEmpty()) {
                withVictims.add(m);
            }
        }
        if (withVictims.isEmpty()) {
            return false;
        }
        Merchant breached = withVictims.get(random.nextInt(withVictims.size()));
        Card card = breached.victims.remove(random.nextInt(breached.victims.size()));
        long t = clock + random.nextLong(6 * HOUR);
        List<Merchant> local = merchantsByHomeCountry.get(card.home);
        int spends = 1 + random.nextInt(3);
        for (int i = 0; i < spends; i++) {
            t += random.nextLong(3 * HOUR);
            Merchant m =
                    local.isEmpty() ? card.favourites[0] : local.get(random.nextInt(local.size()));
            Channel channel =
                    m.mcc.equals("6011")
                            ? Channel.ATM
                            : m.online || random.nextDouble() < 0.5 ? Channel.ECOM : Channel.POS;
            double major =
                    Math.exp(card.logAmount + random.nextGaussian() * 0.6)
                            * m.amountFactor
                            * (1 + random.nextDouble());
            schedule(
                    t,
                    FraudPattern.MERCHANT_COMPROMISE,
                    card,
                    m,
                    m.mcc,
                    null,
                    channel,
                    toMinor(major),
                    "dev-" + Long.toHexString(random.nextLong()));
        }
        return true;
    }

    private Merchant usualOnlineMerchant(Card card) {
        List<Merchant> own = new ArrayList<>();
        for (Merchant m : card.favourites) {
            if (m.online) {
                own.add(m);
            }
        }
        if (!own.isEmpty()) {
            return own.get(random.nextInt(own.size()));
        }
        List<Merchant> local = merchantsByHomeCountry.get(card.home);
        for (Merchant m : local) {
            if (m.online) {
                own.add(m);
            }
        }
        return own.isEmpty()
                ? onlineMerchants.get(random.nextInt(onlineMerchants.size()))
                : own.get(random.nextInt(own.size()));
    }

    private void startCardTesting() {
        Card card = pickCard();
        long t = clock + random.nextLong(600 * SECOND);
        int probes = 4 + random.nextInt(12);
        String device = "dev-" + Long.toHexString(random.nextLong());
        for (int i = 0; i < probes; i++) {
            t += (2 + random.nextInt(40)) * SECOND;
            Merchant m = onlineMerchants.get(random.nextInt(onlineMerchants.size()));
            long amount = random.nextDouble() < 0.2 ? 100 : 50 + random.nextInt(450);
            String mcc = TESTING_MCC[random.nextInt(TESTING_MCC.length)];
            schedule(
                    t, FraudPattern.CARD_TESTING, card, m, mcc, null, Channel.ECOM, amount, device);
        }
        if (random.nextBoolean()) {
            Merchant m = onlineMerchants.get(random.nextInt(onlineMerchants.size()));
            long amount = toMinor(200 + random.nextDouble() * 1300);
            schedule(
                    t + 60 * SECOND,
                    FraudPattern.CARD_TESTING,
                    card,
                    m,
                    "5732",
                    null,
                    Channel.ECOM,
                    amount,
                    device);
        }
    }

    private void startAccountTakeover() {
        Card card = pickCard();
        String[] abroad = FRAUD_COUNTRIES[random.nextInt(FRAUD_COUNTRIES.length)];
        long t = clock + random.nextLong(600 * SECOND);
        int spends = 2 + random.nextInt(5);
        String device = "dev-" + Long.toHexString(random.nextLong());
        for (int i = 0; i < spends; i++) {
            t += (30 + random.nextInt(870)) * SECOND;
            double roll = random.nextDouble();
            Channel channel = roll < 0.6 ? Channel.ECOM : roll < 0.85 ? Channel.ATM : Channel.POS;
            String mcc =
                    channel == Channel.ATM
                            ? "6011"
                            : TAKEOVER_MCC[random.nextInt(TAKEOVER_MCC.length)];
            double major = Math.exp(card.logAmount) * (4 + random.nextDouble() * 11);
            Merchant m = merchants[random.nextInt(merchants.length)];
            schedule(
                    t,
                    FraudPattern.ACCOUNT_TAKEOVER,
                    card,
                    m,
                    mcc,
                    abroad,
                    channel,
                    toMinor(major),
                    device);
        }
    }

    private boolean startMerchantCompromise() {
        List<Merchant> withVictims = new ArrayList<>();
        for (Merchant m : breachedMerchants) {
            if (!m.victims.isEmpty()) {
                withVictims.add(m);
            }
        }
        if (withVictims.isEmpty()) {
            return false;
        }
        Merchant breached = withVictims.get(random.nextInt(withVictims.size()));
        int victims = 1 + random.nextInt(3);
        for (int v = 0; v < victims && !breached.victims.isEmpty(); v++) {
            Card card = breached.victims.remove(random.nextInt(breached.victims.size()));
            long t = clock + random.nextLong(6 * HOUR);
            String[] abroad =
                    random.nextBoolean()
                            ? FRAUD_COUNTRIES[random.nextInt(FRAUD_COUNTRIES.length)]
                            : null;
            String device = "dev-" + Long.toHexString(random.nextLong());
            int spends = 1 + random.nextInt(2);
            for (int i = 0; i < spends; i++) {
                t += random.nextLong(2 * HOUR);
                Merchant m = onlineMerchants.get(random.nextInt(onlineMerchants.size()));
                String mcc = COMPROMISE_MCC[random.nextInt(COMPROMISE_MCC.length)];
                long amount = toMinor(100 + random.nextDouble() * 1900);
                schedule(
                        t,
                        FraudPattern.MERCHANT_COMPROMISE,
                        card,
                        m,
                        mcc,
                        abroad,
                        Channel.ECOM,
                        amount,
                        device);
            }
        }
        return true;
    }

    private void schedule(
            long time,
            FraudPattern pattern,
            Card card,
            Merchant merchant,
            String mcc,
            String[] country,
            Channel channel,
            long amountMinor,
            String device) {
        String id = newTransactionId();
        scheduled.add(
                new Scheduled(time, sequence++, pattern) {
                    @Override
                    Transaction build(long eventTime) {
                        return Transaction.newBuilder()
                                .setTransactionId(id)
                                .setCardId(card.id)
                                .setMerchantId(merchant.id)
                                .setMerchantCategory(mcc)
                                .setAmountMinor(amountMinor)
                                .setCurrency(country == null ? merchant.currency : country[1])
                                .setCountry(country == null ? merchant.country : country[0])
                                .setChannel(channel)
                                .setCardPresent(channel != Channel.ECOM)
                                .setEventTime(Instant.ofEpochMilli(eventTime))
                                .setDeviceId(channel == Channel.ECOM ? device : null)
                                .build();
                    }
                });
        fraudScheduled++;
    }

    // ---------------------------------------------------------------- building blocks

    private Transaction transaction(
            Card card, Merchant merchant, Channel channel, long amountMinor, String device) {
        return Transaction.newBuilder()
                .setTransactionId(newTransactionId())
                .setCardId(card.id)
                .setMerchantId(merchant.id)
                .setMerchantCategory(merchant.mcc)
                .setAmountMinor(amountMinor)
                .setCurrency(merchant.currency)
                .setCountry(merchant.country)
                .setChannel(channel)
                .setCardPresent(channel != Channel.ECOM)
                .setEventTime(Instant.ofEpochMilli(clock))
                .setDeviceId(channel == Channel.ECOM ? device : null)
                .build();
    }

    private String newTransactionId() {
        return String.format("tx-%016x", random.nextLong());
    }

    private Card pickCard() {
        double target = random.nextDouble() * cardWeightCumulative[cardWeightCumulative.length - 1];
        int lo = 0;
        int hi = cardWeightCumulative.length - 1;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (cardWeightCumulative[mid] < target) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return cards[lo];
    }

    /** Relative activity by local hour: quiet at night, busiest in the afternoon and evening. */
    private static double dailyRhythm(int hour) {
        if (hour < 6) {
            return 0.08;
        }
        if (hour < 9) {
            return 0.5;
        }
        if (hour < 17) {
            return 0.85;
        }
        return hour < 22 ? 1.0 : 0.35;
    }

    private double exponential(double mean) {
        return -mean * Math.log(1 - random.nextDouble());
    }

    private static long toMinor(double major) {
        return Math.max(1, Math.round(major * 100));
    }

    private Merchant[] createMerchants(int n) {
        Merchant[] out = new Merchant[n];
        int totalWeight = 0;
        for (String[] c : HOME_COUNTRIES) {
            totalWeight += Integer.parseInt(c[2]);
        }
        int mccWeight = 0;
        for (String[] m : EVERYDAY_MCC) {
            mccWeight += Integer.parseInt(m[1]);
        }
        for (int i = 0; i < n; i++) {
            int country = weighted(HOME_COUNTRIES, 2, totalWeight);
            String[] mcc = EVERYDAY_MCC[weighted(EVERYDAY_MCC, 1, mccWeight)];
            boolean online = mcc[0].equals("5816") || random.nextDouble() < 0.2;
            Merchant m =
                    new Merchant(
                            String.format("m-%05d", i),
                            mcc[0],
                            Double.parseDouble(mcc[2]),
                            HOME_COUNTRIES[country][0],
                            HOME_COUNTRIES[country][1],
                            online,
                            random.nextDouble() < 0.01);
            out[i] = m;
            merchantsByHomeCountry.get(country).add(m);
            if (online) {
                onlineMerchants.add(m);
            }
            if (m.breached) {
                breachedMerchants.add(m);
            }
        }
        if (onlineMerchants.isEmpty()) {
            onlineMerchants.add(out[0]);
        }
        return out;
    }

    private Card createCard(int i) {
        int totalWeight = 0;
        for (String[] c : HOME_COUNTRIES) {
            totalWeight += Integer.parseInt(c[2]);
        }
        int home = weighted(HOME_COUNTRIES, 2, totalWeight);
        Card card = new Card();
        card.id = String.format("card-%06d", i);
        card.home = home;
        card.utcOffsetHours = Integer.parseInt(HOME_COUNTRIES[home][3]);
        card.logAmount = Math.log(40) + random.nextGaussian() * 0.5;
        card.ecomShare = 0.05 + random.nextDouble() * 0.45;
        card.activity = Math.exp(random.nextGaussian() * 0.7);
        card.device = "dev-" + card.id;
        List<Merchant> local = merchantsByHomeCountry.get(home);
        card.favourites = new Merchant[8];
        for (int f = 0; f < card.favourites.length; f++) {
            card.favourites[f] =
                    local.isEmpty()
                            ? merchants[random.nextInt(merchants.length)]
                            : local.get(random.nextInt(local.size()));
        }
        return card;
    }

    private int weighted(String[][] table, int column, int total) {
        int roll = random.nextInt(total);
        for (int i = 0; i < table.length; i++) {
            roll -= Integer.parseInt(table[i][column]);
            if (roll < 0) {
                return i;
            }
        }
        return table.length - 1;
    }

    private static final class Card {
        String id;
        int home;
        int utcOffsetHours;
        double logAmount;
        double ecomShare;
        double activity;
        String device;
        Merchant[] favourites;
        Merchant breachedAt;

        int localHour(long epochMillis) {
            return (int) Math.floorMod(epochMillis / HOUR + utcOffsetHours, 24L);
        }
    }

    private static final class Merchant {
        final String id;
        final String mcc;
        final double amountFactor;
        final String country;
        final String currency;
        final boolean online;
        final boolean breached;
        final List<Card> victims = new ArrayList<>();

        Merchant(
                String id,
                String mcc,
                double amountFactor,
                String country,
                String currency,
                boolean online,
                boolean breached) {
            this.id = id;
            this.mcc = mcc;
            this.amountFactor = amountFactor;
            this.country = country;
            this.currency = currency;
            this.online = online;
            this.breached = breached;
        }
    }

    private abstract static class Scheduled {
        final long time;
        final long sequence;
        final FraudPattern pattern;

        Scheduled(long time, long sequence, FraudPattern pattern) {
            this.time = time;
            this.sequence = sequence;
            this.pattern = pattern;
        }

        abstract Transaction build(long eventTime);
    }

    private record Resend(GeneratedTransaction original, long atEmitted) {}
}

using Retro.Engine.Retro;

namespace Retro.Engine.Tests.Retro;

/// <summary>
/// The pad prefix (<see cref="RetroDecoder.ReusePadPrefix"/>): a question left-padded to fill chunk 0 gets its
/// leading pads' states from a prefix computed once, and decodes as if every position had been computed — through
/// <see cref="RetroDecoder.Forward"/> and through <see cref="RetroDecoder.SegmentBatch"/>, with neighbours at the
/// chunk boundary and steps after it.
/// </summary>
public sealed class PadPrefixTests : IDisposable
{
    private const double Tolerance = 1e-5; // the same math over fewer rows per product: float rounding only
    private const int Pad = 1;

    private static readonly RetroConfig Config = new RetroConfig
    {
        VocabSize = 50, DModel = 16, NLayers = 3, NHeads = 2, DFf = 24, MaxSeqLen = 40,
        ChunkSize = 8, NeighbourLen = 6, NumNeighbours = 2, CcaLayers = [1, 2],
        EncoderLayers = 1, EncoderNHeads = 2, EncoderDFf = 20, PadTokenId = Pad, EosTokenId = 0,
    }.Validate();

    private static readonly IReadOnlyList<int[]> Neighbours = [[3, 1, 4, 1, 5, 9], [2, 6, 5, -1, -1, -1]];

    private readonly IBackend _backend = TestBackends.Cpu();
    private readonly RandomRetroModel _model;
    private readonly RetroWeights _weights;
    private readonly RetroDecoder _reusing;
    private readonly RetroDecoder _computing;

    public PadPrefixTests()
    {
        _model = new RandomRetroModel(_backend, Config, seed: 23);
        _weights = _model.Bind(Config);
        _reusing = new RetroDecoder(Config, _weights, _backend);
        _computing = new RetroDecoder(Config, _weights, _backend) { ReusePadPrefix = false };
    }

    public void Dispose()
    {
        _reusing.Dispose();
        _computing.Dispose();
        _weights.Dispose();
        _model.Dispose();
        _backend.Dispose();
    }

    /// <summary>A question of <paramref name="length"/> tokens left-padded to chunk 0 (8 tokens), as the generator builds it.</summary>
    private static int[] Question(int length) => [.. Enumerable.Repeat(Pad, Config.ChunkSize - length), .. Enumerable.Range(10, length)];

    /// <summary>The generator's order: chunk 0 up to its last token, the last token with neighbours, then single steps.</summary>
    private static List<float[]> Decode(RetroDecoder decoder, int[] question, int steps)
    {
        using var session = decoder.CreateSession();
        int m = Config.ChunkSize;
        var outputs = new List<float[]>
        {
            session.Prefill(question.AsSpan(0, m - 1), null).ToArray(),
            session.Step(question[m - 1], Neighbours).ToArray(),
        };
        for (int i = 0; i < steps; i++) outputs.Add(session.Step(20 + i).ToArray());
        return outputs;
    }

    [Theory]
    [InlineData(1)] // 7 pads: the whole prefix but the boundary token
    [InlineData(3)]
    [InlineData(7)] // one pad
    public void A_padded_question_decodes_as_if_every_position_were_computed(int length)
    {
        var question = Question(length);
        long before = _reusing.ReusedPadPositions;
        var expected = Decode(_computing, question, steps: 10);
        var actual = Decode(_reusing, question, steps: 10);
        _computing.ReusedPadPositions.ShouldBe(0);
        _reusing.ReusedPadPositions.ShouldBe(before + Math.Min(Config.ChunkSize - length, Config.ChunkSize - 2)); // the prefill's last token is computed
        for (int i = 0; i < expected.Count; i++)
            ParityAssert.Close($"question of {length}, output {i}", expected[i], actual[i], Config.VocabSize, Tolerance);
    }

    [Fact]
    public void Only_leading_pads_of_a_fresh_last_logits_sequence_are_taken_never_the_last_token()
    {
        using var session = _reusing.CreateSession();
        var logits = new float[Config.VocabSize];
        session.Feed([Pad, Pad, Pad], [], logits);        // all pads: the last is computed for its logits
        _reusing.ReusedPadPositions.ShouldBe(2);
        session.Feed([Pad, Pad], [], logits);             // not at position 0: computed
        _reusing.ReusedPadPositions.ShouldBe(2);
        using var all = _reusing.CreateState(logitRows: Config.ChunkSize);
        _reusing.Forward(all, [Pad, Pad, 5], null, new float[3 * Config.VocabSize]); // every position's logits wanted
        _reusing.ReusedPadPositions.ShouldBe(2);
        using var reference = _computing.CreateSession();
        reference.Feed([Pad, Pad, Pad], [], new float[Config.VocabSize]);
        var expected = reference.Step(Pad).ToArray();
        using var again = _reusing.CreateSession();
        again.Feed([Pad, Pad, Pad], [], logits);
        ParityAssert.Close("pads then a pad step", expected, again.Step(Pad), Config.VocabSize, Tolerance);
    }

    [Fact]
    public void Batched_prefills_take_the_pad_prefix_and_equal_computing_every_position()
    {
        int v = Config.VocabSize, m = Config.ChunkSize;
        int[][] questions = [Question(2), Question(5), [4, 5, 6, 7, 8, 9, 10, 11]];
        using var batch = new RetroBatch(_reusing, 3, rowCapacity: 3 * m);
        var sessions = questions.Select(_ => _reusing.CreateSession()).ToArray();
        var logits = new float[3 * v];
        _reusing.SegmentBatch(batch, sessions, questions.Select(q => (ReadOnlyMemory<int>)q.AsMemory(0, m - 1)).ToArray(), null, logits);
        _reusing.ReusedPadPositions.ShouldBe(6 + 3); // the unpadded prompt takes nothing
        var first = logits.ToArray();
        _reusing.SegmentBatch(batch, sessions, questions.Select(q => (ReadOnlyMemory<int>)q.AsMemory(m - 1, 1)).ToArray(),
            [Neighbours, null, Neighbours], logits);
        for (int b = 0; b < questions.Length; b++)
        {
            using var alone = _computing.CreateSession();
            ParityAssert.Close($"prompt {b} prefill", alone.Prefill(questions[b].AsSpan(0, m - 1), null), first.AsSpan(b * v, v), v, Tolerance);
            ParityAssert.Close($"prompt {b} boundary", alone.Step(questions[b][m - 1], b == 1 ? null : Neighbours), logits.AsSpan(b * v, v), v, Tolerance);
            sessions[b].Length.ShouldBe(m);
            sessions[b].Dispose();
        }
    }
}

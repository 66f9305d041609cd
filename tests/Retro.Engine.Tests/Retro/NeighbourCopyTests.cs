using System.Text.Json;
using Retro.Engine.Retro;
using Retro.Engine.Tests.Support;

namespace Retro.Engine.Tests.Retro;

public class NeighbourCopyTests
{
    private static NeighbourCopy Table(int maxMatch = 32) => new()
    {
        MaxMatch = maxMatch,
        MatchEdges = [1, 2, 3, 4, 6, 8, 12, 16],
        LambdaRead = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.9],
        LambdaUnread = [0, 0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.8],
    };

    [Fact]
    public void Match_is_the_longest_run_ending_the_context_with_a_token_after_it_at_its_earliest_place()
    {
        NeighbourCopy.MatchOne([5, 6, 7], [1, 5, 6, 7, 9, 5, 6, 7, 8], 32).ShouldBe((3, 9));
        NeighbourCopy.MatchOne([6, 7], [1, 5, 6, 7], 32).ShouldBe((0, -1)); // no token after the run
        NeighbourCopy.MatchOne([4, 6, 7], [6, 7, 1, 9, 6, 7, 2], 32).ShouldBe((2, 1)); // the earliest of equal runs
        NeighbourCopy.MatchOne([1, 2, 3, 4], [1, 2, 3, 4, 5], 2).ShouldBe((2, 5)); // capped at max_match
        NeighbourCopy.MatchOne([], [1, 2], 32).ShouldBe((0, -1));
    }

    [Fact]
    public void Propose_prefers_the_longer_match_then_the_better_ranked_neighbour_and_carries_its_read_flag()
    {
        var copy = Table();
        int[] context = [9, 1, 2, 3];
        var p = copy.Propose(context, [[2, 3, 7], [1, 2, 3, 8]], [true, false]);
        p.ShouldBe(new NeighbourCopy.Proposal(8, 3, false, 0.05));
        p = copy.Propose(context, [[2, 3, 7], [0, 2, 3, 8]], [false, true]);
        p.ShouldBe(new NeighbourCopy.Proposal(7, 2, false, 0)); // a tie: the first; L = 2 unread has lambda 0
        p.Any.ShouldBeFalse();
        copy.Propose(context, [[4, 5]], [true]).ShouldBe(NeighbourCopy.Proposal.None);
        Should.Throw<ArgumentException>(() => copy.Propose(context, [[1]], []));
    }

    [Fact]
    public void Lambda_follows_the_buckets_and_is_zero_without_a_match()
    {
        var copy = Table();
        copy.Lambda(0, true).ShouldBe(0);
        copy.Lambda(5, true).ShouldBe(0.3);
        copy.Lambda(6, true).ShouldBe(0.4);
        copy.Lambda(32, false).ShouldBe(0.8);
        copy.Lambda(15, false).ShouldBe(0.4);
    }

    [Fact]
    public void Mix_in_logit_space_is_the_mixture_of_the_distributions()
    {
        float[] logits = [1.5f, -0.5f, 0.25f, 3f, 0f];
        double[] before = Softmax(logits);
        var proposal = new NeighbourCopy.Proposal(2, 10, true, 0.6);
        NeighbourCopy.Mix(logits, proposal);
        double[] after = Softmax(logits);
        for (int i = 0; i < after.Length; i++)
            after[i].ShouldBe((1 - 0.6) * before[i] + (i == 2 ? 0.6 : 0), 1e-6);
        double bits = -Math.Log2(before[3]);
        NeighbourCopy.MixedBits(bits, 3, proposal).ShouldBe(-Math.Log2(after[3]), 1e-6);
        NeighbourCopy.MixedBits(bits, 2, NeighbourCopy.Proposal.None).ShouldBe(bits);
    }

    [Fact]
    public void Matches_the_python_reference_on_the_fixture_cases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(RepoPaths.Fixture("neighbour-copy.json")));
        var root = doc.RootElement;
        var copy = NeighbourCopy.FromJson(JsonDocument.Parse($"{{\"neighbour_copy\": {root.GetProperty("table").GetRawText()}}}").RootElement)!;
        int checkedPositions = 0, matched = 0;
        foreach (var c in root.GetProperty("cases").EnumerateArray())
        {
            int m = c.GetProperty("chunk_size").GetInt32();
            int[] tokens = [.. c.GetProperty("tokens").EnumerateArray().Select(x => x.GetInt32())];
            var neighbours = c.GetProperty("neighbours").EnumerateArray().Select(u => u.EnumerateArray().Select(n => n.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToArray()).ToArray();
            var read = c.GetProperty("read").EnumerateArray().Select(u => u.EnumerateArray().Select(x => x.GetBoolean()).ToArray()).ToArray();
            int[] proposal = [.. c.GetProperty("proposal").EnumerateArray().Select(x => x.GetInt32())];
            int[] match = [.. c.GetProperty("match").EnumerateArray().Select(x => x.GetInt32())];
            double[] lambda = [.. c.GetProperty("lambda").EnumerateArray().Select(x => x.GetDouble())];
            double[] p = [.. c.GetProperty("p").EnumerateArray().Select(x => x.GetDouble())];
            double[] mixed = [.. c.GetProperty("mixed_bits").EnumerateArray().Select(x => x.GetDouble())];
            for (int t = 0; t < proposal.Length; t++)
            {
                int u = (t + 1) / m - 1;
                var got = u >= 0 && u < neighbours.Length
                    ? copy.Propose(tokens.AsSpan(0, t + 1), neighbours[u], read[u])
                    : NeighbourCopy.Proposal.None;
                got.Token.ShouldBe(proposal[t], $"position {t}");
                got.Match.ShouldBe(match[t], $"position {t}");
                got.Lambda.ShouldBe(lambda[t], 1e-9, $"position {t}");
                NeighbourCopy.MixedBits(-Math.Log2(p[t]), tokens[t + 1], got).ShouldBe(mixed[t], 1e-9, $"position {t}");
                checkedPositions++;
                if (got.Match > 0) matched++;
            }
        }
        checkedPositions.ShouldBeGreaterThan(400);
        matched.ShouldBeGreaterThan(200);
    }

    [Fact]
    public void Config_reads_the_table_and_rejects_a_bad_one()
    {
        const string Base = """
            {"vocab_size": 16, "d_model": 8, "n_layers": 2, "n_heads": 2, "d_ff": 8, "max_seq_len": 32, "cca_layers": [1],
             "encoder_layers": 1, "encoder_n_heads": 2, "encoder_d_ff": 8, "model_type": "retro" %COPY%}
            """;
        RetroConfig.Parse(Base.Replace("%COPY%", "")).NeighbourCopy.ShouldBeNull();
        var c = RetroConfig.Parse(Base.Replace("%COPY%", """, "neighbour_copy": {"max_match": 8, "match_edges": [1, 4], "lambda_read": [0.1, 0.9], "lambda_unread": [0, 0.5]}"""));
        c.NeighbourCopy!.MaxMatch.ShouldBe(8);
        c.NeighbourCopy.LambdaRead.ShouldBe([0.1, 0.9]);
        foreach (string bad in new[]
        {
            """{"max_match": 8, "match_edges": [1, 4], "lambda_read": [0.1, 1.0], "lambda_unread": [0, 0.5]}""",
            """{"max_match": 8, "match_edges": [4, 1], "lambda_read": [0.1, 0.2], "lambda_unread": [0, 0.5]}""",
            """{"max_match": 2, "match_edges": [1, 4], "lambda_read": [0.1, 0.2], "lambda_unread": [0, 0.5]}""",
            """{"max_match": 8, "match_edges": [1, 4], "lambda_read": [0.1], "lambda_unread": [0, 0.5]}""",
            """{"max_match": 8, "match_edges": [1, 4], "lambda_read": [0.1, 0.2]}""",
            "[1]",
        })
            Should.Throw<InvalidDataException>(() => RetroConfig.Parse(Base.Replace("%COPY%", $", \"neighbour_copy\": {bad}")));
    }

    private static double[] Softmax(float[] logits)
    {
        double max = logits.Max(), sum = logits.Sum(l => Math.Exp(l - max));
        return [.. logits.Select(l => Math.Exp(l - max) / sum)];
    }
}

using Retro.Eval.Metrics;
using Retro.Eval.Tasks;
using Retro.Eval.Running;

namespace Retro.Eval.Tests;

public class LmMetricsTests
{
    [Fact]
    public void NegLog2Prob_of_uniform_logits_is_log2_of_the_vocabulary()
    {
        var logits = new float[8];
        BitsPerByte.NegLog2Prob(logits, 3).ShouldBe(3, 1e-12);
        logits[3] = 1000; // a certain token: ~0 bits, no overflow
        BitsPerByte.NegLog2Prob(logits, 3).ShouldBe(0, 1e-9);
        BitsPerByte.NegLog2Prob(logits, 0).ShouldBeGreaterThan(1000);
    }

    [Fact]
    public void Bpb_divides_bits_by_bytes()
    {
        var bpb = new BitsPerByte();
        bpb.Value.ShouldBe(double.NaN);
        bpb.Add(6, 3);
        bpb.Add(2, 1);
        bpb.Value.ShouldBe(2);
        bpb.Tokens.ShouldBe(2);
        Should.Throw<ArgumentOutOfRangeException>(() => bpb.Add(-1, 1));
    }

    [Fact]
    public void Token_bytes_count_each_character_once_in_utf8()
    {
        // "aé€": a = 1 byte, é = 2, € = 3; é split across two byte-level tokens whose ranges both cover it
        string text = "aé€";
        var encoded = new List<(int Id, Range Offsets)> { (1, 0..1), (2, 1..2), (3, 1..2), (4, 2..3) };
        var ids = new int[4];
        LmTask.TokenBytes(text, encoded, ids).ShouldBe([1, 2, 0, 3]);
        ids.ShouldBe([1, 2, 3, 4]);
    }

    [Fact]
    public void Chunk_overlap_is_the_fraction_of_tokens_in_shared_8_grams()
    {
        int[] chunk = [.. Enumerable.Range(0, 16)];
        ChunkOverlap.Fraction(chunk, []).ShouldBe(0);
        ChunkOverlap.Fraction(chunk, [[100, 101, 102]]).ShouldBe(0);
        ChunkOverlap.Fraction(chunk, [[.. Enumerable.Range(0, 16)]]).ShouldBe(1);
        // tokens 4..11 appear in a neighbour (one 8-gram): 8 of 16 covered
        ChunkOverlap.Fraction(chunk, [[99, .. Enumerable.Range(4, 8), 99]]).ShouldBe(0.5);
        // 7 shared tokens are not enough
        ChunkOverlap.Fraction(chunk, [[.. Enumerable.Range(4, 7)]]).ShouldBe(0);
        // overlapping 8-grams from two neighbours: 0..8 and 6..13 -> 14 tokens
        ChunkOverlap.Fraction(chunk, [[.. Enumerable.Range(0, 9)], [.. Enumerable.Range(6, 8)]]).ShouldBe(14 / 16.0);
        // a chunk shorter than 8 tokens must match whole
        ChunkOverlap.Fraction([1, 2, 3], [[0, 1, 2, 3, 4]]).ShouldBe(1);
    }

    [Theory]
    [InlineData(0.0, 0)]
    [InlineData(0.125, 0)]
    [InlineData(0.2, 1)]
    [InlineData(0.25, 1)]
    [InlineData(0.5, 2)]
    [InlineData(0.51, 3)]
    [InlineData(1.0, 3)]
    public void Overlap_buckets_are_upper_inclusive(double fraction, int bucket) => ChunkOverlap.Bucket(fraction).ShouldBe(bucket);

    [Theory]
    [InlineData("a\nb", "a")]
    [InlineData("  Paris  ", "Paris")]
    [InlineData("x\r\ny", "x")]
    [InlineData("", "")]
    public void Answers_are_cut_at_the_first_newline(string text, string expected) => QaTask.CleanAnswer(text).ShouldBe(expected);

    [Theory]
    [InlineData("modem\n\n<hardware> A device\nthat  joins", "modem <hardware> A device that joins")]
    [InlineData("  Paris  ", "Paris")]
    public void Answers_that_span_lines_keep_every_line(string text, string expected) => QaTask.CleanAnswer(text, cutAtNewline: false).ShouldBe(expected);

    [Theory]
    [InlineData("definitions", null, false)]
    [InlineData("squad", null, true)]
    [InlineData("definitions", true, true)]
    public void Definitions_answers_span_lines_unless_told(string format, bool? stop, bool cuts) =>
        new QaTaskConfig { Format = format, StopAtNewline = stop }.CutsAtNewline.ShouldBe(cuts);
}

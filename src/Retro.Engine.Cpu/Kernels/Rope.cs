using System.Runtime.Intrinsics;

namespace Retro.Engine.Cpu.Kernels;

/// <summary>
/// Rotary embedding, rotate-half convention, in place; angles in double, applied in float. The cos/sin of every
/// (position, frequency) come from a table per (theta, head dimension), computed once and grown on demand: computing
/// them per row took ~100 libm calls per row (2% of the service's profile, more of a neighbour encoding's).
/// </summary>
internal static unsafe class Rope
{
    private static readonly Lock Gate = new();
    private static Table[] s_tables = [];

    /// <summary>Positions a table covers at most; rows beyond (or before 0) compute their angles directly.</summary>
    private const int MaxTablePositions = 1 << 16;

    /// <summary>Rotates every head of one row at position <paramref name="position"/>.</summary>
    public static void Row(float* x, int position, int heads, int headDim, float theta)
    {
        int half = headDim / 2;
        if ((uint)position >= MaxTablePositions)
        {
            float* c = stackalloc float[half], s = stackalloc float[half];
            for (int j = 0; j < half; j++)
            {
                double angle = position * Math.Pow(theta, -2.0 * j / headDim);
                c[j] = (float)Math.Cos(angle);
                s[j] = (float)Math.Sin(angle);
            }
            Rotate(x, heads, headDim, c, s);
            return;
        }
        var table = TableFor(theta, headDim, position);
        fixed (float* cosAll = table.Cos, sinAll = table.Sin)
            Rotate(x, heads, headDim, cosAll + (long)position * half, sinAll + (long)position * half);
    }

    private static void Rotate(float* x, int heads, int headDim, float* cos, float* sin)
    {
        int half = headDim / 2;
        for (int h = 0; h < heads; h++)
        {
            float* v = x + h * headDim;
            int j = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                for (; j + 16 <= half; j += 16)
                {
                    var a = Vector512.Load(v + j);
                    var b = Vector512.Load(v + j + half);
                    var c = Vector512.Load(cos + j);
                    var s = Vector512.Load(sin + j);
                    (a * c - b * s).Store(v + j);
                    (b * c + a * s).Store(v + j + half);
                }
            }
            for (; j < half; j++)
            {
                float a = v[j], b = v[j + half];
                v[j] = a * cos[j] - b * sin[j];
                v[j + half] = b * cos[j] + a * sin[j];
            }
        }
    }

    /// <summary>cos/sin of position·theta^(−2j/headDim), j &lt; headDim/2, for positions [0, <see cref="Positions"/>).</summary>
    private sealed class Table(float theta, int headDim, int positions)
    {
        public float Theta { get; } = theta;
        public int HeadDim { get; } = headDim;
        public int Positions { get; } = positions;
        public float[] Cos { get; } = new float[(long)positions * (headDim / 2)];
        public float[] Sin { get; } = new float[(long)positions * (headDim / 2)];

        public Table Fill()
        {
            int half = HeadDim / 2;
            for (int p = 0; p < Positions; p++)
            {
                for (int j = 0; j < half; j++)
                {
                    double angle = p * Math.Pow(Theta, -2.0 * j / HeadDim);
                    Cos[p * half + j] = (float)Math.Cos(angle);
                    Sin[p * half + j] = (float)Math.Sin(angle);
                }
            }
            return this;
        }
    }

    private static Table TableFor(float theta, int headDim, int position)
    {
        foreach (var t in Volatile.Read(ref s_tables))
            if (t.Theta == theta && t.HeadDim == headDim && position < t.Positions) return t;
        lock (Gate)
        {
            var tables = s_tables;
            foreach (var t in tables)
                if (t.Theta == theta && t.HeadDim == headDim && position < t.Positions) return t;
            int positions = Math.Min(MaxTablePositions, Math.Max(1024, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)position + 1)));
            var table = new Table(theta, headDim, positions).Fill();
            var next = tables.Where(t => t.Theta != theta || t.HeadDim != headDim).Append(table).ToArray();
            Volatile.Write(ref s_tables, next);
            return table;
        }
    }
}

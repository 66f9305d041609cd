namespace Retro.Engine.Cpu.Kernels;

/// <summary>Rotary embedding, rotate-half convention, in place; angles in double, applied in float.</summary>
internal static unsafe class Rope
{
    /// <summary>Rotates every head of one row at position <paramref name="position"/>; <paramref name="cos"/>/<paramref name="sin"/> are scratch of headDim/2.</summary>
    public static void Row(float* x, int position, int heads, int headDim, float theta, float* cos, float* sin)
    {
        int half = headDim / 2;
        for (int j = 0; j < half; j++)
        {
            double angle = position * Math.Pow(theta, -2.0 * j / headDim);
            cos[j] = (float)Math.Cos(angle);
            sin[j] = (float)Math.Sin(angle);
        }
        for (int h = 0; h < heads; h++)
        {
            float* v = x + h * headDim;
            for (int j = 0; j < half; j++)
            {
                float a = v[j], b = v[j + half];
                v[j] = a * cos[j] - b * sin[j];
                v[j + half] = b * cos[j] + a * sin[j];
            }
        }
    }
}

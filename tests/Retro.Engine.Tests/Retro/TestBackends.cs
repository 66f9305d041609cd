using Retro.Engine.Cpu;

namespace Retro.Engine.Tests.Retro;

/// <summary>Backends the decoder tests run on.</summary>
internal static class TestBackends
{
    /// <summary>The CPU backend with the machine's threads.</summary>
    public static IBackend Cpu() => new CpuBackend();
}

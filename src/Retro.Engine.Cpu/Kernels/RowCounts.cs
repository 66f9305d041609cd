namespace Retro.Engine.Cpu.Kernels;

/// <summary>
/// The activation rows of one register tile (<see cref="Gemv"/>'s Dot4xR pass, <see cref="PackedGemm"/>'s micro-tile) as
/// a type, so that the JIT compiles one loop per count with the unused accumulators gone.
/// </summary>
internal interface IRowCount { static abstract int Count { get; } }

internal struct Rows1 : IRowCount { public static int Count => 1; }

internal struct Rows2 : IRowCount { public static int Count => 2; }

internal struct Rows3 : IRowCount { public static int Count => 3; }

internal struct Rows4 : IRowCount { public static int Count => 4; }

using Retro.Api.Apis;
using Retro.Api.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddRetroDefaults();
builder.AddRetroServices();
builder.Services.AddProblemDetails();

var app = builder.Build();

app.MapRetroDefaults();
app.MapQuestionApi();

app.Run();

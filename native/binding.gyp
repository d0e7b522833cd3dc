{
  "targets": [
    {
      "target_name": "dnnkit_native",
      "sources": ["src/dnnkit_native.cc", "src/lstm.cc"],
      "include_dirs": ["<!(node -p \"process.env.DNNKIT_DNNL_INCLUDE || '/usr/include'\")"],
      "libraries": ["-ldnnl", "-fopenmp"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fopenmp", "-fno-trapping-math", "-fno-math-errno"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}

# providers: service providers for ws2, one module each (named after the CE DLLs).

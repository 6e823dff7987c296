#include <cstdio>

int main() {
  std::puts("act: under construction");
  return 0;
}

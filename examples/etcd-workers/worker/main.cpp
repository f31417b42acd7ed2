#include "worker.hpp"

int main(int argc, char** argv)
{
  return worker::run(argc, argv);
}
